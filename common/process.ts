import type { ChildProcess } from 'node:child_process';
import { readFile, readlink, rm } from 'node:fs/promises';

/** A process identity that survives pid reuse: the pid and its start time in clock ticks. */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** The start time of a live (non-zombie) process, or undefined if it is gone. */
export async function liveStartTime(pid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X') return undefined;
  return fields[19]; // field 22 overall
}

/**
 * Alive and not on its way out: a distro's init that was killed can take a while to exit
 * (it waits for every process of its namespace), and its namespaces are gone meanwhile.
 */
export async function isAlive(p: ProcessIdentity): Promise<boolean> {
  if ((await liveStartTime(p.pid)) !== p.startTime) return false;
  return readlink(`/proc/${p.pid}/ns/mnt`).then(
    () => true,
    () => false,
  );
}

/** Whether any process has this pid (signal 0: works on Windows too, where there is no /proc). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until cond() holds or the deadline passes; returns whether it held. */
export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}

/**
 * Ends the process a pid file names (TERM, then KILL after `graceMs`), but only if its
 * command line holds every one of `mustContain`: a pid reused by another program, or a
 * user's own process, is left alone. Removes the pid file. Returns the pid it ended.
 */
export async function endProcessFromPidFile(pidFile: string, mustContain: string[], graceMs = 3000): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  let ended: number | undefined;
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (cmdline && mustContain.every((s) => cmdline.includes(s))) {
      process.kill(pid, 'SIGTERM');
      if (!(await waitFor(async () => !(await liveStartTime(pid)), graceMs))) process.kill(pid, 'SIGKILL');
      await waitFor(async () => !(await liveStartTime(pid)), graceMs);
      ended = pid;
    }
  }
  await rm(pidFile, { force: true });
  return ended;
}

/** A helper process Berth started and watches. */
export interface RunningHelper {
  child: ChildProcess;
  /** Resolves with why it ended. */
  exited: Promise<string>;
}

/** How a child ended, in words; resolves also when it could not start at all. */
export function exitReason(child: ChildProcess): Promise<string> {
  return new Promise<string>((resolve) => {
    child.once('error', (e) => resolve(e.message));
    child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit ${code}`));
  });
}
