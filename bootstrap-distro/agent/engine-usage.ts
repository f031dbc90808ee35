import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupLayout } from './engine-cgroup.js';
import type { EngineUsage } from './status-schema.js';

/** A number from a cgroup file; undefined where the file or the key is not there. */
async function counter(file: string, key?: RegExp): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const value = key ? key.exec(text)?.[1] : text.trim();
  return value === undefined || !/^\d+$/.test(value) ? undefined : Number(value);
}

/** Sums each `NAME=N` (v2's io.stat) or `MAJ:MIN Op N` (v1's blkio) line's number for one key. */
function sumOf(text: string | undefined, pick: (line: string) => number | undefined): number | undefined {
  if (text === undefined) return undefined;
  return text.split('\n').reduce((total, line) => total + (pick(line) ?? 0), 0);
}

const v2Io = (op: 'rbytes' | 'wbytes') => (line: string) => Number(new RegExp(`\\b${op}=(\\d+)`).exec(line)?.[1] ?? 0);
const v1Io = (op: 'Read' | 'Write') => (line: string) => Number(new RegExp(`^\\d+:\\d+ ${op} (\\d+)$`).exec(line.trim())?.[1] ?? 0);

/**
 * What the engine's cgroup (dockerd, containerd and every container) has used: CPU time
 * and disk bytes since it was made, and memory now. Memory leaves out the inactive file
 * cache, as `docker stats` does: the kernel takes that back first. The dashboard charts the
 * rates between two readings.
 */
export async function engineUsage(layout: CgroupLayout): Promise<EngineUsage> {
  if (layout.version === 2) {
    const dir = layout.dirs[0]!.dir;
    const [cpuUsec, memory, inactive, io] = await Promise.all([
      counter(join(dir, 'cpu.stat'), /^usage_usec (\d+)$/m),
      counter(join(dir, 'memory.current')),
      counter(join(dir, 'memory.stat'), /^inactive_file (\d+)$/m),
      readFile(join(dir, 'io.stat'), 'utf8').catch(() => undefined),
    ]);
    return usage(cpuUsec === undefined ? undefined : cpuUsec * 1000, memory, inactive, sumOf(io, v2Io('rbytes')), sumOf(io, v2Io('wbytes')));
  }
  const dirOf = (controller: string) => layout.dirs.find((d) => d.controllers.includes(controller))?.dir;
  const [cpuacct, memoryDir, blkio] = [dirOf('cpuacct'), dirOf('memory'), dirOf('blkio')];
  const [cpuNs, memory, inactive, io] = await Promise.all([
    cpuacct ? counter(join(cpuacct, 'cpuacct.usage')) : undefined,
    memoryDir ? counter(join(memoryDir, 'memory.usage_in_bytes')) : undefined,
    memoryDir ? counter(join(memoryDir, 'memory.stat'), /^total_inactive_file (\d+)$/m) : undefined,
    blkio ? readFile(join(blkio, 'blkio.throttle.io_service_bytes_recursive'), 'utf8').catch(() => undefined) : undefined,
  ]);
  return usage(cpuNs, memory, inactive, sumOf(io, v1Io('Read')), sumOf(io, v1Io('Write')));
}

function usage(cpuNs: number | undefined, memory: number | undefined, inactive: number | undefined, ioRead: number | undefined, ioWrite: number | undefined): EngineUsage {
  return {
    ...(cpuNs !== undefined ? { cpuNs } : {}),
    ...(memory !== undefined ? { memoryBytes: Math.max(0, memory - (inactive ?? 0)) } : {}),
    ...(ioRead !== undefined ? { ioReadBytes: ioRead } : {}),
    ...(ioWrite !== undefined ? { ioWriteBytes: ioWrite } : {}),
  };
}
