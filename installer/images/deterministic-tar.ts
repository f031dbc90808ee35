import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';

/** Every path under dir, relative, sorted byte-wise, directories before their contents. */
export async function sortedEntries(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const names = (await readdir(join(dir, prefix))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const rel = prefix ? `${prefix}/${name}` : name;
    out.push(rel);
    if ((await lstat(join(dir, rel))).isDirectory()) out.push(...(await sortedEntries(dir, rel)));
  }
  return out;
}

/** A fixed time for every entry, so the same inputs give byte-identical tarballs. */
export const FIXED_MTIME = new Date('2020-01-01T00:00:00Z');

/**
 * Packs dir into a .tar.gz that depends only on the files' contents, names, modes and
 * links: sorted entries, one mtime, uid/gid 0, no user or group names, gzip without a
 * timestamp. Reports entries packed so far.
 */
export async function packDeterministic(dir: string, file: string, onEntry?: (done: number, total: number) => void): Promise<void> {
  const entries = await sortedEntries(dir);
  let done = 0;
  await tar.create(
    {
      gzip: { level: 6 },
      file,
      cwd: dir,
      portable: true,
      noDirRecurse: true,
      mtime: FIXED_MTIME,
      onWriteEntry: () => onEntry?.(++done, entries.length),
    },
    entries.map((e) => `./${e}`),
  );
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}
