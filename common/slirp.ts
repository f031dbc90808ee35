import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { exitReason, type RunningHelper } from './process.js';
import { findHelper, slirpArgs, type SlirpOptions } from './user-mode-net.js';

const READY_WITHIN_MS = 5000;
/** The fd slirp4netns says "configured" on: the third after stdio. */
const READY_FD = 3;

export interface SlirpStart extends Omit<SlirpOptions, 'readyFd'> {
  /** Its stderr goes here (created 0600). */
  logFile: string;
  /** Written 0600 as soon as it runs, so a stop finds it even if this process dies next. */
  pidFile: string;
  /** Runs on after the caller exits (WSL's NAT, started by a berth-wsl that ends). */
  detached?: boolean;
}

/**
 * Starts slirp4netns and resolves once the link is configured (its --ready-fd, no polling of
 * the namespace), or throws naming its log; one that does not get there is killed.
 */
export async function startSlirp(o: SlirpStart): Promise<RunningHelper> {
  const slirp = await findHelper('slirp4netns');
  const logFd = openSync(o.logFile, 'a', 0o600);
  const child = spawn(slirp, slirpArgs({ ...o, readyFd: READY_FD }), { stdio: ['ignore', logFd, logFd, 'pipe'], detached: o.detached ?? false });
  closeSync(logFd);
  const exited = exitReason(child);
  if (child.pid) await writeFile(o.pidFile, `${child.pid}\n`, { mode: 0o600 });
  const readyPipe = child.stdio[READY_FD]!;
  const ready = new Promise<string | true>((resolve) => {
    readyPipe.once('data', (d: Buffer) => resolve(d.toString().startsWith('1') ? true : `it said ${JSON.stringify(d.toString().slice(0, 100))}`));
    setTimeout(() => resolve(`not configured within ${READY_WITHIN_MS} ms`), READY_WITHIN_MS).unref();
  });
  const outcome = await Promise.race([ready, exited]);
  readyPipe.destroy();
  if (outcome !== true) {
    child.kill('SIGKILL');
    throw new Error(`slirp4netns did not come up (${outcome}); see ${o.logFile}`);
  }
  if (o.detached) child.unref();
  return { child, exited };
}
