import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The host pid of a running distro's init under a Linux WSL host root. */
export function distroInitPid(wslRoot: string, distro: string): number {
  const reg = JSON.parse(readFileSync(join(wslRoot, 'registry.json'), 'utf8')) as { distros: Array<{ id: string; name: string }> };
  const id = reg.distros.find((d) => d.name === distro)?.id;
  if (!id) throw new Error(`no distro ${distro} under ${wslRoot}`);
  return (JSON.parse(readFileSync(join(wslRoot, 'run/distros', id, 'init.json'), 'utf8')) as { pid: number }).pid;
}

/**
 * Berth's processes on the host: the backend's tree (its berth-wsl clients, the ports' relay
 * in WSL, the proxies) and the berth distro's (the detached supervisor, the engine).
 */
export function berthProcesses(backendPid: number, wslRoot: string): number[] {
  return [...new Set([...processTree(backendPid), ...processTree(distroInitPid(wslRoot, 'berth'))])];
}

/** Every process under `pid` (itself included), from the host's /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

export function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Resident memory in KiB (0 if the process is gone). */
export function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Proportional set size in KiB (shared pages split among their users); 0 if the process is gone. */
export function pssKiB(pid: number): number {
  return pssParts(pid).total;
}

/**
 * PSS in KiB, whole and split: `anon` is the process's own memory (heaps, stacks), `file` its
 * share of mapped files (the node binary's code and the like, which shrinks as more processes
 * map the same file). All 0 if the process is gone.
 */
export function pssParts(pid: number): { total: number; anon: number; file: number } {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
    return { total: field('Pss'), anon: field('Pss_Anon'), file: field('Pss_File') };
  } catch {
    return { total: 0, anon: 0, file: 0 };
  }
}

/** Every process whose command line names `root` (a test world's temporary root), with its descendants. */
export function worldProcesses(root: string): number[] {
  const out = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && commandLine(Number(entry)).includes(root)) for (const p of processTree(Number(entry))) out.add(p);
  }
  return [...out];
}
