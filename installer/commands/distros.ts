import { removeDockerContext } from '../docker-context.js';
import { berthsOwn, BERTH_DISTRO, DATA_DISTRO, foreignDistro, ownershipOf } from '../distros.js';
import { DATA_LOCK_WAIT_MS, wipeDataDistro } from '../reset.js';
import { withLock } from '../../common/lock.js';
import { loadSettings, updateSettings } from '../settings.js';
import { rm, stat } from 'node:fs/promises';
import { EXIT, Refused, type CliContext } from './context.js';
import { start, stop } from './lifecycle.js';

/** `berth reset --yes`: factory reset, wiping berth-data; starts again if the engine is enabled. */
export async function reset(ctx: CliContext, yes: boolean): Promise<number> {
  if (!yes) throw new Refused('reset deletes every image, container and volume in Berth; run `berth reset --yes` to do it');
  const wsl = await ctx.wsl();
  // Proved before anything stops: a berth-data that Berth did not make is never wiped.
  if (!(await berthsOwn(wsl, DATA_DISTRO, 'wipe')) && !(await installed(ctx))) {
    ctx.say(`Berth is not installed here (no ${DATA_DISTRO}); nothing to reset. \`berth enable\` installs it.`);
    return EXIT.ok;
  }
  await stop(ctx);
  if (await wipeDataDistro(wsl, ctx.home, (l) => ctx.warn(`berth: ${l}\n`))) ctx.say(`${DATA_DISTRO} wiped.`);
  return (await loadSettings(ctx.home.settings)).wslEngine ? start(ctx) : EXIT.ok;
}

/** `berth uninstall [--delete-data]`: both distros go; berth-data only when the user says so. */
export async function uninstall(ctx: CliContext, deleteDataFlag: boolean): Promise<number> {
  const wsl = await ctx.wsl();
  // Both proved before anything stops or goes: a foreign distro of either name is never touched.
  const berth = await ownershipOf(wsl, BERTH_DISTRO);
  if (berth === 'foreign') throw foreignDistro(BERTH_DISTRO, 'unregister');
  const data = await ownershipOf(wsl, DATA_DISTRO);
  if (berth === 'absent' && data === 'absent' && !(await installed(ctx))) {
    ctx.say('Berth is not installed here; nothing to uninstall.');
    return EXIT.ok;
  }
  const deleteData = data === 'berths' && (deleteDataFlag || (await ctx.confirm(`Delete ${DATA_DISTRO} with all images, containers and volumes?`)));
  if (data === 'foreign' && deleteDataFlag) throw foreignDistro(DATA_DISTRO, 'delete');
  await stop(ctx);
  if (berth === 'berths') {
    await wsl.unregister(BERTH_DISTRO);
    ctx.say(`${BERTH_DISTRO} unregistered.`);
  }
  if (deleteData) {
    await withLock(ctx.home.dataLock, () => wsl.unregister(DATA_DISTRO), DATA_LOCK_WAIT_MS);
    ctx.say(`${DATA_DISTRO} deleted.`);
  } else if (data === 'berths') ctx.say(`${DATA_DISTRO} kept (its data survives; \`berth uninstall --delete-data\` removes it).`);
  else if (data === 'foreign') ctx.say(`${DATA_DISTRO} left alone: Berth did not make it.`);
  await removeDockerContext();
  await rm(ctx.home.state, { force: true });
  await updateSettings(ctx.home.settings, (s) => (s.wslEngine = false));
  return EXIT.ok;
}

/** Whether this Berth home records an install (its state file). */
async function installed(ctx: CliContext): Promise<boolean> {
  return (await stat(ctx.home.state).catch(() => undefined)) !== undefined;
}
