import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { paths } from './paths.js';
import { removeTree } from '../../common/remove-tree.js';

export interface ImageRef {
  file: string;
  sha256: string;
}

export interface DistroImages {
  system: ImageRef;
  versionPack: ImageRef;
}

export class CorruptImageError extends Error {}

export async function readManifest(imagesDir = paths.imagesDir): Promise<DistroImages> {
  const file = join(imagesDir, 'manifest.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as DistroImages;
  } catch (e) {
    throw new CorruptImageError(`cannot read ${file} (${(e as Error).message}); re-import the berth distro (berth enable)`, { cause: e });
  }
}

async function sha256(file: string): Promise<string> {
  // Loaded only here: most starts trust the stamp below, and loading crypto costs them time.
  const { createHash } = await import('node:crypto');
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/**
 * What a file looked like when its hash last matched. Hashing 75 MB costs more than the
 * rest of a start, so a file whose inode, size and times are unchanged since is trusted
 * (as git trusts its index); any write to it changes its mtime and ctime.
 */
async function fileStamp(file: string): Promise<string> {
  const s = await stat(file);
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

async function checkHash(image: ImageRef, file: string, cacheDir: string): Promise<void> {
  const stampFile = join(cacheDir, `${image.sha256}.verified`);
  const stamp = await fileStamp(file).catch((e: Error) => {
    throw new CorruptImageError(`image ${image.file} is missing (${e.message}); re-import the berth distro (berth enable)`, { cause: e });
  });
  if ((await readFile(stampFile, 'utf8').catch(() => '')) === stamp) return;
  const actual = await sha256(file);
  if (actual !== image.sha256) {
    throw new CorruptImageError(`image ${image.file} is corrupt: sha256 ${actual.slice(0, 12)}… instead of ${image.sha256.slice(0, 12)}…; re-import the berth distro (berth enable)`);
  }
  await mkdir(cacheDir, { recursive: true });
  await writeFile(stampFile, stamp);
}

/** Checks an image against its hash and unpacks it once into the cache; returns the unpacked dir. */
export async function verifiedImageDir(image: ImageRef, imagesDir = paths.imagesDir, cacheDir = paths.imageCache): Promise<string> {
  const file = join(imagesDir, image.file);
  await checkHash(image, file, cacheDir);
  const dir = join(cacheDir, image.sha256);
  if (await stat(join(dir, '.complete')).catch(() => undefined)) return dir;
  // Unpack beside the final place and rename: a crash never leaves a half-unpacked image in use.
  const partial = `${dir}.partial`;
  await removeTree(partial);
  await mkdir(partial, { recursive: true });
  const tar = await import('tar');
  await tar.extract({ file, cwd: partial, preserveOwner: true });
  await mkdir(join(partial, '.complete'));
  await removeTree(dir);
  await rename(partial, dir);
  return dir;
}
