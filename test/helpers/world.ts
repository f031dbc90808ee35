import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function processTable(): Array<{ pid: number; ppid: number; env: string; cmdline: string }> {
  const out: Array<{ pid: number; ppid: number; env: string; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(entry), ppid, env, cmdline });
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
      mine.add((JSON.parse(readFileSync(join(distros, id, 'init.json'), 'utf8')) as { pid: number }).pid);
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

/** SIGKILL to each of a world's processes (that match); returns how many got it. */
export function killWorld(wslRoot: string, matching?: (cmdline: string) => boolean): number {
  let n = 0;
  for (const pid of worldProcesses(wslRoot, matching)) {
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // gone
    }
  }
  return n;
}
