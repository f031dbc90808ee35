import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { askBackend, backendStatus, ensureBackend, stopBackend } from '../backend/client.js';
import { bootWhileBackendLoads } from '../backend/boot-distros.js';
import { stopReportSchema, type BackendStatus } from '../backend/status-schema.js';
import { loadSettings, updateSettings } from '../settings.js';
import { EXIT, Refused, type CliContext } from './context.js';
import { HttpError } from '../../common/http-client.js';
import { sleep } from '../../common/process.js';

const START_TIMEOUT_MS = 15 * 60_000;
/** How long one request waits for the next step (the backend's longest); the CLI then asks again. */
const CHANGE_WAIT_MS = 5000;
const OLD_BACKEND_POLL_MS = 50;

/**
 * The backend's status once it is not `seen` any more: the backend answers at its next step
 * (so each step shows as it happens, and running is seen at once), or after CHANGE_WAIT_MS.
 */
async function nextStatus(ctx: CliContext, seen: BackendStatus | undefined): Promise<BackendStatus | undefined> {
  if (!seen) return backendStatus(ctx.home);
  try {
    return await askBackend(ctx.home, 'statusChange', { state: seen.state, progress: seen.progress ?? '', waitMs: String(CHANGE_WAIT_MS) });
  } catch (e) {
    // A backend started before the route was there (it runs on across an update): asked again shortly instead.
    if (!(e instanceof HttpError && e.status === 404)) throw e;
    await sleep(OLD_BACKEND_POLL_MS);
    return backendStatus(ctx.home);
  }
}

/** Waits for the backend to report running or failed, showing its progress as it changes; `seen`: a status the caller has already, the first to wait past. */
export async function waitForEngine(ctx: CliContext, timeoutMs: number, seen?: BackendStatus): Promise<BackendStatus> {
  let last = '';
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = (seen = await nextStatus(ctx, seen));
    if (s?.progress && s.progress !== last && s.state === 'starting') {
      last = s.progress;
      ctx.warn(`… ${s.progress}\n`);
    }
    if (s && (s.state === 'running' || s.state === 'failed')) return s;
    if (!s) throw new Error(`the backend stopped while starting; see ${ctx.home.backendOut}`);
    if (Date.now() > end) throw new Error(`Berth did not start within ${timeoutMs / 1000}s (last step: ${last}); see ${join(ctx.home.logsDir, 'berth.log')}`);
  }
}

/** `berth start`: idempotent; a failed backend is asked to retry now. */
export async function start(ctx: CliContext): Promise<number> {
  await loadSettings(ctx.home.settings); // an invalid file stops here, with the key and the reason
  // A backend that answers is asked at once (its start is idempotent: a running or starting
  // engine stays so); else one is started, which starts the engine unless another caller's,
  // started meanwhile, is idle.
  let asked = await askBackend(ctx.home, 'start');
  if (!asked) {
    const { state } = await ensureBackend(ctx.home, { whileSpawning: () => bootWhileBackendLoads(ctx) });
    asked = state === 'failed' || state === 'stopped' ? await askBackend(ctx.home, 'start') : undefined;
  }
  const s = await waitForEngine(ctx, START_TIMEOUT_MS, asked);
  if (s.state === 'failed' && s.refused) {
    await stopBackend(ctx.home);
    throw new Refused(s.error ?? 'refused');
  }
  if (s.state === 'failed') {
    ctx.warn(`berth: the engine failed to start: ${s.error}\nBerth keeps retrying in the background; \`berth stop\` gives up, \`berth logs\` shows more.\n`);
    return EXIT.failed;
  }
  ctx.say(`Berth is running. Docker API: ${s.endpoint} (docker --context berth …)`);
  return EXIT.ok;
}

/** `berth stop`: the backend, or an engine left running without one. */
export async function stop(ctx: CliContext): Promise<number> {
  await rm(ctx.home.stopReport, { force: true });
  if (await stopBackend(ctx.home)) {
    const problems = await readStopReport(ctx.home.stopReport);
    if (problems.length === 0) {
      ctx.say('Berth stopped.');
      return EXIT.ok;
    }
    ctx.say('Berth stopped, but not everything was undone:');
    for (const p of problems) ctx.say(`  ${p}`);
    return EXIT.failed;
  }
  // No backend (it was killed): an engine may still run without it.
  const { Engine } = await import('../engine.js');
  const engine = new Engine(await ctx.wsl(), () => {});
  if (await engine.agentStatus()) {
    await engine.stop();
    ctx.say('Berth stopped (the engine was running without its backend).');
  } else {
    ctx.say('Berth is not running.');
  }
  return EXIT.ok;
}

/** The problems the backend's stop wrote down (none when it wrote nothing, or nothing went wrong). */
async function readStopReport(file: string): Promise<string[]> {
  try {
    const report = stopReportSchema.parse(JSON.parse(await readFile(file, 'utf8')));
    return report.problems;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    return [`the backend's stop report ${file} could not be read (${(e as Error).message})`];
  } finally {
    await rm(file, { force: true });
  }
}

/** `berth enable`: the "Use the WSL 2 based engine" checkbox turned on. */
export async function enable(ctx: CliContext): Promise<number> {
  await loadSettings(ctx.home.settings);
  await updateSettings(ctx.home.settings, (s) => (s.wslEngine = true));
  return start(ctx);
}

/** `berth disable`: the checkbox turned off; data kept. */
export async function disable(ctx: CliContext): Promise<number> {
  const code = await stop(ctx);
  await updateSettings(ctx.home.settings, (s) => (s.wslEngine = false));
  return code;
}

export async function restart(ctx: CliContext): Promise<number> {
  // Checked before anything stops: a settings file the start would refuse leaves the engine running.
  await loadSettings(ctx.home.settings);
  await stop(ctx);
  return start(ctx);
}
