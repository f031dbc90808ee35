import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { mountsUnder } from './mountinfo.js';

/** A recursive delete refused because something is mounted at or below the path. */
export class MountedBelowError extends Error {
  constructor(
    readonly path: string,
    readonly mounts: string[],
  ) {
    super(`refusing to delete ${path}: ${mounts.join(', ')} ${mounts.length === 1 ? 'is' : 'are'} mounted there; unmount ${mounts.length === 1 ? 'it' : 'them'} first, or the delete would reach into what is mounted`);
    this.name = 'MountedBelowError';
  }
}

/**
 * The one recursive delete of Berth's product code: it first checks this mount namespace's
 * mount table and refuses (MountedBelowError) if anything is mounted at or below `path`,
 * since `rm -r` follows into a bind mount of a data store, a shared area or a drive and
 * deletes what it holds. A missing path is not an error.
 */
export async function removeTree(path: string): Promise<void> {
  const absolute = resolve(path);
  const mounted = await mountsUnder(absolute);
  if (mounted.length > 0) throw new MountedBelowError(absolute, mounted);
  await rm(absolute, { recursive: true, force: true });
}
