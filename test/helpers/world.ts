import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveStartTime, sleep } from '../../common/process.js';

interface ProcessEntry {
  pid: number;
  ppid: number;
  startTime: string;
  env: string;
  cmdline: string;
}

/** Every process but zombies (already dead, only waiting to be reaped). */
function processTable(): ProcessEntry[] {
  const out: ProcessEntry[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(entry), ppid: Number(fields[1]), startTime: fields[19]!, env, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Every process of one test world, and none of anyone else's: what carries the world's
 * WSL root in its environment (CLI, backend, berth-wsl and their children), and everything
 * under the world's distro inits (the engine, the proxies, what runs in distros). A test
 * kills or looks up only these — never by name machine-wide, where a developer's own Berth
 * may be running.
 */
export function worldProcesses(wslRoot: string, matching?: (cmdline: string) => boolean): number[] {
  const table = processTable();
  const mine = new Set<number>();
  for (const p of table) if (p.pid !== process.pid && p.env.split('\0').includes(`BERTH_WSL_ROOT=${wslRoot}`)) mine.add(p.pid);
  const distros = join(wslRoot, 'run/distros');
  for (const id of (() => {
    try {
      return readdirSync(distros);
    } catch {
      return [];
    }
  })()) {
    try {
      const init = JSON.parse(readFileSync(join(distros, id, 'init.json'), 'utf8')) as { pid: number; startTime: string };
      // The same process, not a later one that reuses a dead init's pid.
      if (table.find((p) => p.pid === init.pid)?.startTime === init.startTime) mine.add(init.pid);
    } catch {
      // not running
    }
  }
  for (let grew = true; grew;) {
    grew = false;
    for (const p of table) {
      if (mine.has(p.pid) || !mine.has(p.ppid)) continue;
      mine.add(p.pid);
      grew = true;
    }
  }
  const byPid = new Map(table.map((p) => [p.pid, p.cmdline]));
  return [...mine].filter((pid) => !matching || matching(byPid.get(pid) ?? ''));
}

/** SIGKILL to each of a world's processes (that match); returns the pids that got it. */
function signalWorld(wslRoot: string, matching?: (cmdline: string) => boolean): number[] {
  const hit: number[] = [];
  for (const pid of worldProcesses(wslRoot, matching)) {
    try {
      process.kill(pid, 'SIGKILL');
      hit.push(pid);
    } catch {
      // gone
    }
  }
  return hit;
}

/** SIGKILL to each of a world's processes (that match); returns how many got it. */
export function killWorld(wslRoot: string, matching?: (cmdline: string) => boolean): number {
  return signalWorld(wslRoot, matching).length;
}

/**
 * The whole world dead, as after a power cut: SIGKILL again to anything started meanwhile,
 * until no process of it is left, and every one killed has finished exiting. A killed
 * process is not gone at once: one freeing much memory or closing files still counts as
 * alive for a while (not yet a zombie), and berth-wsl would rightly treat its import as
 * still running.
 */
export async function killWorldAndWait(wslRoot: string, timeoutMs = 30_000): Promise<void> {
  const killed = new Map<number, string>();
  for (const end = Date.now() + timeoutMs; ; await sleep(20)) {
    for (const pid of signalWorld(wslRoot)) {
      const started = await liveStartTime(pid);
      if (started !== undefined && !killed.has(pid)) killed.set(pid, started);
    }
    let exiting = 0;
    for (const [pid, started] of killed) if ((await liveStartTime(pid)) === started) exiting++;
    if (exiting === 0 && worldProcesses(wslRoot).length === 0) return;
    if (Date.now() >= end) throw new Error(`${exiting} killed processes of ${wslRoot} still exiting after ${timeoutMs / 1000} s`);
  }
}
