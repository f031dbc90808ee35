import { DATA_LOCK_WAIT_MS } from '../reset.js';
import { withLock } from '../../common/lock.js';
import { DataDiskRefused, type EngineControl } from '../../data-distro/data-disk.js';
import { dataDiskUsage, formatBytes } from '../../data-distro/disk-usage.js';
import { askBackend, backendStatus } from '../backend/client.js';
import { berthsOwn, DATA_DISTRO, dataDiskOf, readState } from '../distros.js';
import { Engine } from '../engine.js';
import { updateSettings } from '../settings.js';
import { EXIT, Refused, type CliContext } from './context.js';
import { waitForEngine } from './lifecycle.js';

const START_TIMEOUT_MS = 15 * 60_000;

/**
 * The engine around a change of berth-data's disk: stopped through the backend when one
 * runs (it stays up and starts the engine again after), or directly when an engine runs
 * without one; started again only if it was running. `start` only asks: the backend's
 * install waits for the disk lock this command holds, so waiting here would wait for ever.
 */
async function engineControl(ctx: CliContext): Promise<EngineControl & { wasRunning: boolean }> {
  const status = await backendStatus(ctx.home);
  const wasRunning = status !== undefined && (status.state === 'running' || status.state === 'starting');
  return {
    stop: async () => {
      if (status) {
        if (wasRunning) await askBackend(ctx.home, 'stopEngine');
        return;
      }
      const engine = new Engine(await ctx.wsl(), () => {});
      if (await engine.agentStatus()) await engine.stop();
    },
    start: async () => {
      if (wasRunning) await askBackend(ctx.home, 'start');
    },
    wasRunning,
  };
}

/** After the lock is released: the engine back up, if it was. */
async function engineBack(ctx: CliContext, control: { wasRunning: boolean }): Promise<void> {
  if (!control.wasRunning) return;
  const s = await waitForEngine(ctx, START_TIMEOUT_MS);
  if (s.state !== 'running') ctx.warn(`berth: the engine did not start again: ${s.error}\n`);
}

/** berth-data's disk, once berth-data is proved to be Berth's (a foreign one is refused). */
async function disk(ctx: CliContext, action: string) {
  const wsl = await ctx.wsl();
  if (!(await berthsOwn(wsl, DATA_DISTRO, action))) {
    throw new Refused(`there is no ${DATA_DISTRO} to ${action}: Berth is not installed here; \`berth enable\` installs it`);
  }
  return dataDiskOf(wsl, ctx.home, await readState(ctx.home.state));
}

/** Work on the disk: one at a time (the backend's install takes the same lock); a refusal exits `refused`. */
async function exclusive<T>(ctx: CliContext, fn: () => Promise<T>): Promise<T> {
  try {
    // The backend's trims take the lock too, for seconds: wait them out.
    return await withLock(ctx.home.dataLock, fn, DATA_LOCK_WAIT_MS);
  } catch (e) {
    if (e instanceof DataDiskRefused) throw new Refused(e.message, { cause: e });
    if ((e as { code?: string }).code === 'ELOCKED')
      throw new Refused("berth-data's disk is being changed by another berth command (or the engine is being installed, or a trim is still running); try again when it is done", { cause: e });
    throw e;
  }
}

/** `berth data`: where the disk is, its limit, what it holds, what it takes on the host. */
export async function dataInfo(ctx: CliContext): Promise<number> {
  const d = await disk(ctx, 'show');
  const usage = await dataDiskUsage(await ctx.wsl());
  const allocated = await d.allocatedBytes();
  ctx.say(`disk image: ${d.file}`);
  ctx.say(`size limit: ${formatBytes(usage.sizeBytes)} (file system), ${formatBytes(usage.usedBytes)} used, ${formatBytes(usage.availBytes)} free`);
  if (allocated !== undefined) ctx.say(`on the host: ${formatBytes(allocated)} (the image is sparse: free space costs nothing)`);
  return EXIT.ok;
}

/** `berth data resize GIB`: also the `diskSizeGiB` setting, so a re-import keeps the size. */
export async function dataResize(ctx: CliContext, gibText: string): Promise<number> {
  const gib = Number(gibText);
  if (!Number.isInteger(gib) || gib < 1 || gib > 16384) throw new Refused(`"${gibText}" is not a disk size; give a whole number of GiB from 1 to 16384, e.g. berth data resize 128`);
  const control = await engineControl(ctx);
  await exclusive(ctx, async () => {
    await (await disk(ctx, 'resize')).resize(gib, control, (l) => ctx.warn(`… ${l}\n`));
    await updateSettings(ctx.home.settings, (s) => void (s.diskSizeGiB = gib));
  });
  await engineBack(ctx, control);
  const usage = await dataDiskUsage(await ctx.wsl());
  ctx.say(`berth-data's disk is now ${gib} GiB (${formatBytes(usage.availBytes)} free).`);
  return EXIT.ok;
}

/** `berth data move DIR`: Docker Desktop's "Disk image location". */
export async function dataMove(ctx: CliContext, dir: string): Promise<number> {
  const control = await engineControl(ctx);
  const to = await exclusive(ctx, async () => (await disk(ctx, 'move')).move(dir, control, (l) => ctx.warn(`… ${l}\n`)));
  await engineBack(ctx, control);
  ctx.say(`berth-data's disk is now ${to}; the old copy was removed.`);
  return EXIT.ok;
}
