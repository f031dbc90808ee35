import { readFile } from 'node:fs/promises';

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

export async function isAlive(p: ProcessIdentity): Promise<boolean> {
  return (await liveStartTime(p.pid)) === p.startTime;
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
