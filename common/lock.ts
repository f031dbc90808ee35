import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Runs fn while holding an exclusive lock on `path`, across processes. A holder that
 * died leaves a stale lock that is taken over after `stale` ms.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, waitMs = 120_000): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, '', { flag: 'a' });
  // Loaded when a lock is taken: most commands take none, and proper-lockfile with
  // graceful-fs costs every Node start that loads it ~4 ms.
  const { default: lockfile } = await import('proper-lockfile');
  const release = await lockfile.lock(path, {
    stale: 10_000,
    update: 2_000,
    retries: { retries: Math.ceil(waitMs / 50), factor: 1, minTimeout: 50, maxTimeout: 50 },
    realpath: false,
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
