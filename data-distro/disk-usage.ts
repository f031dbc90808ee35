import type { WslHost } from '../wsl-host/host.js';
import { DATA_STORE_ROOT } from '../common/shared-area.js';
import { DATA_DISTRO } from './layout.js';

export interface DiskUsage {
  sizeBytes: number;
  usedBytes: number;
  availBytes: number;
}

/** `df -P -k` (POSIX format, 1 KiB blocks): the line of the one file system asked about. */
export function parseDf(text: string): DiskUsage {
  const line = text.trim().split('\n').slice(1).join(' ');
  const fields = line.trim().split(/\s+/);
  const [size, used, avail] = fields.slice(1, 4).map(Number);
  if (fields.length < 6 || ![size, used, avail].every((n) => Number.isSafeInteger(n))) throw new Error(`df printed what Berth cannot read: ${JSON.stringify(text.slice(0, 200))}`);
  // Used is what is not available: ext4 keeps a small reserve (up to 16 MiB) out of reach even
  // with -m 0, which df leaves out of both columns. Counted as used, the numbers add up, and
  // match what `berth status` gets from the agent's statfs (size - available).
  return { sizeBytes: size! * 1024, usedBytes: (size! - avail!) * 1024, availBytes: avail! * 1024 };
}

/** berth-data's disk as its file system sees it (the engine may be down). */
export async function dataDiskUsage(wsl: WslHost): Promise<DiskUsage> {
  const r = await wsl.run(DATA_DISTRO, ['df', '-P', '-k', DATA_STORE_ROOT], { user: 'root' });
  if (r.exitCode !== 0) throw new Error(`cannot read berth-data's disk usage: ${r.stderr.trim() || `df exited with ${r.exitCode}`}`);
  return parseDf(r.stdout);
}

/** The store is full when less than this is left: 1% of the disk, at most 256 MiB. */
export function fullThreshold(sizeBytes: number): number {
  return Math.min(256 * 2 ** 20, Math.floor(sizeBytes / 100));
}

export type DiskState = 'ok' | 'full';

export function diskState(u: DiskUsage): DiskState {
  return u.availBytes <= fullThreshold(u.sizeBytes) ? 'full' : 'ok';
}

const GIB = 2 ** 30;

export function formatBytes(n: number): string {
  if (n >= GIB) return `${(n / GIB).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(0)} MiB`;
  return `${Math.round(n / 1024)} KiB`;
}

/** What `berth status` says of a full disk, with both ways out. */
export function fullDiskAdvice(u: DiskUsage): string {
  const bigger = Math.ceil((u.sizeBytes * 1.5) / GIB);
  return `berth-data's disk is full (${formatBytes(u.usedBytes)} of ${formatBytes(u.sizeBytes)} used, ${formatBytes(u.availBytes)} left): free space with \`docker system prune\` (or remove containers, images, volumes you no longer need), or grow the disk with \`berth data resize ${bigger}\``;
}

export interface DiskStatus extends DiskUsage {
  state: DiskState;
  /** The disk image's size on the host, where it is known. */
  imageBytes?: number;
  /** For a full disk: what to do (fullDiskAdvice). */
  fix?: string;
}

/** What status says of berth-data's store, from the agent's look at it. */
export function diskStatus(d: { sizeBytes: number; availBytes: number }, imageBytes: number | undefined): DiskStatus {
  const usage = { ...d, usedBytes: d.sizeBytes - d.availBytes };
  const state = diskState(usage);
  return { state, ...usage, ...(imageBytes !== undefined ? { imageBytes } : {}), ...(state === 'full' ? { fix: fullDiskAdvice(usage) } : {}) };
}
