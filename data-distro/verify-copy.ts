import type { Stats } from 'node:fs';
import { lstat, mkdtemp, readdir, readlink, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/** One entry of a tree, as far as a copy must keep it. */
function describe(st: Stats, link: string | undefined): string {
  const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : 's';
  return `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${type === 'f' ? st.size : ''}${type === 'c' || type === 'b' ? st.rdev : ''}${link !== undefined ? ` -> ${link}` : ''}`;
}

/** The first difference between two trees (type, mode, owner, size, device, link target), or undefined. */
export async function firstDifference(a: string, b: string, rel = ''): Promise<string | undefined> {
  const [ea, eb] = await Promise.all([readdir(join(a, rel)), readdir(join(b, rel))]);
  const nb = new Set(eb);
  for (const name of ea.sort()) {
    if (!rel && name === 'lost+found') continue;
    const path = join(rel, name);
    if (!nb.has(name)) return `${path} is missing from the copy`;
    const [sa, sb] = await Promise.all([lstat(join(a, path)), lstat(join(b, path))]);
    const [la, lb] = sa.isSymbolicLink() ? await Promise.all([readlink(join(a, path)), readlink(join(b, path)).catch(() => undefined)]) : [undefined, undefined];
    const [da, db] = [describe(sa, la), describe(sb, lb)];
    if (da !== db) return `${path} differs: ${da} in the original, ${db} in the copy`;
    if (sa.isDirectory()) {
      const d = await firstDifference(a, b, path);
      if (d) return d;
    }
  }
  const extra = eb.filter((n) => !ea.includes(n) && !(!rel && n === 'lost+found'));
  return extra.length ? `${join(rel, extra[0]!)} is in the copy only` : undefined;
}

/**
 * Checks that an ext4 image holds exactly the directory it was made from: the file system
 * is consistent (e2fsck, read-only) and, mounted read-only, its tree matches.
 */
export async function verifyImageHolds(image: string, dir: string): Promise<void> {
  const fsck = await execa('e2fsck', ['-f', '-n', image], { reject: false, all: true });
  if (fsck.exitCode !== 0) throw new Error(`the new disk image failed its check (e2fsck): ${fsck.all?.trim().split('\n').slice(-3).join(' ')}`);
  const mnt = await mkdtemp(join(tmpdir(), 'berth-verify-'));
  try {
    await execa('mount', ['-o', 'ro,loop', image, mnt]);
    try {
      const diff = await firstDifference(dir, mnt);
      if (diff) throw new Error(`the new disk image does not hold berth-data as it was: ${diff}`);
    } finally {
      await execa('umount', [mnt]);
    }
  } finally {
    await rmdir(mnt).catch(() => {});
  }
}
