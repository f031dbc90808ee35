import { chmod, mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { removeTree } from '../common/remove-tree.js';

/** ext4's journal: 64 MiB whatever the size (mke2fs would write 512 MiB of zeros for 64 GiB). */
const JOURNAL_MIB = 64;

/**
 * mke2fs options for berth-data's disk: no blocks reserved for root (the engine runs as
 * root, so a reserve would only hide how full the disk is), a fixed journal, and root-owned.
 */
export function mkfsArgs(file: string, sourceDir: string | undefined): string[] {
  return ['-q', '-F', '-t', 'ext4', '-m', '0', '-J', `size=${JOURNAL_MIB}`, '-L', 'berth-data', '-E', 'root_owner=0:0', ...(sourceDir ? ['-d', sourceDir] : []), file];
}

/**
 * Makes berth-data's disk on the Linux WSL host: a sparse file of `sizeBytes` with an ext4
 * file system holding `sourceDir` (a directory-backed berth-data's rootfs) or the image
 * tarball's contents. A failure leaves no file behind.
 */
export async function makeDiskImage(partial: string, sizeBytes: number, source: { tarball: string } | { dir: string }): Promise<void> {
  await mkdir(dirname(partial), { recursive: true, mode: 0o700 });
  let unpacked: string | undefined;
  try {
    let dir: string;
    if ('tarball' in source) {
      unpacked = await mkdtemp(join(dirname(partial), '.unpack-'));
      // Loaded here: a disk is made once per install, and the backend need not keep tar resident.
      const tar = await import('tar');
      await tar.x({ file: source.tarball, cwd: unpacked, preserveOwner: true });
      dir = unpacked;
    } else dir = source.dir;
    await rm(partial, { force: true });
    await writeFile(partial, '', { mode: 0o600 });
    await chmod(partial, 0o600);
    await truncate(partial, sizeBytes);
    const r = await execa('mkfs.ext4', mkfsArgs(partial, dir), { reject: false, all: true });
    if (r.exitCode !== 0) throw new Error(`mkfs.ext4 could not make berth-data's disk: ${r.all?.trim() || `exit ${r.exitCode}`}`);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  } finally {
    if (unpacked) await removeTree(unpacked);
  }
}
