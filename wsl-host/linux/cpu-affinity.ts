import { readFile } from 'node:fs/promises';

/** A kernel CPU list ("0-3,8,10-11", as in /sys/devices/system/cpu/online) as CPU numbers. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`not a CPU list: "${list.trim()}"`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/**
 * The machine's online CPUs. Not this process's own affinity: a caller pinned to one CPU
 * (taskset) may still start a child on another; one outside its cpuset taskset refuses.
 */
export async function onlineCpus(): Promise<number[]> {
  return parseCpuList(await readFile('/sys/devices/system/cpu/online', 'utf8'));
}

/** taskset's words when a CPU is outside the caller's cpuset. */
export const CPU_NOT_ALLOWED = /failed to set pid \d+'s affinity/;
