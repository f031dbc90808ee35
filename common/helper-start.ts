import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { exitReason, type RunningHelper } from './process.js';

const READY_WITHIN_MS = 5000;

export interface HelperLaunch {
  program: string;
  args: string[];
  /** Its stderr goes here (created 0600); with `stdout: 'log'`, its stdout too. */
  logFile: string;
  /** Written 0600 as soon as it runs, so a stop finds it even if this process dies next. */
  pidFile: string;
  /** Where it says it is ready: its stdout, or a pipe it is given as fd 3. */
  readyOn: 'stdout' | 'fd3';
  /** Resolves true once what it said on that stream means ready, or with what it said instead. */
  ready(stream: NodeJS.ReadableStream): Promise<string | true>;
  /** What it is not, when the time is up: "listening", "configured". */
  readyWord: string;
  /** Runs on after the caller exits (WSL's NAT, started by a berth-wsl that ends). */
  detached?: boolean;
}

/**
 * Starts a helper process (slirp4netns, berth-relay outbound): its log and pid file written,
 * resolved once it says it is ready. One that exits first, or is not ready within READY_WITHIN_MS, is
 * killed, and the error says why (the caller adds which helper and where its log is).
 */
export async function startHelper(o: HelperLaunch): Promise<RunningHelper> {
  const logFd = openSync(o.logFile, 'a', 0o600);
  const stdio = o.readyOn === 'stdout' ? (['ignore', 'pipe', logFd] as const) : (['ignore', logFd, logFd, 'pipe'] as const);
  const child: ChildProcess = spawn(o.program, o.args, { stdio: [...stdio], detached: o.detached ?? false });
  closeSync(logFd);
  const exited = exitReason(child);
  if (child.pid) await writeFile(o.pidFile, `${child.pid}\n`, { mode: 0o600 });
  const stream = (o.readyOn === 'stdout' ? child.stdout : child.stdio[3]) as NodeJS.ReadableStream & { destroy(): void };
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve(`not ${o.readyWord} within ${READY_WITHIN_MS} ms`), READY_WITHIN_MS).unref());
  const outcome = await Promise.race([o.ready(stream), exited, timeout]);
  if (o.readyOn === 'fd3') stream.destroy();
  if (outcome !== true) {
    child.kill('SIGKILL');
    throw new Error(outcome);
  }
  if (o.detached) child.unref();
  return { child, exited };
}
