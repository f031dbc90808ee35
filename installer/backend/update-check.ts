import { stat } from 'node:fs/promises';

export const UPDATE_NOTICE = 'Berth was updated since it started: run `berth restart` to use the new version (the engine and its containers restart)';

/**
 * Berth's own code on disk as this backend started from it (its entry file's inode, size and
 * time): an update or a rebuild replaces the file, and only a restart brings it in. Returns
 * the check, which status runs: `{ update }` once the file is another.
 */
export async function watchOwnCode(entry: string): Promise<() => Promise<{ update?: string }>> {
  const identity = async () => {
    const s = await stat(entry, { bigint: true }).catch(() => undefined);
    return s ? `${s.ino}:${s.size}:${s.mtimeNs}` : 'missing';
  };
  const started = await identity();
  return async () => ((await identity()) !== started ? { update: UPDATE_NOTICE } : {});
}
