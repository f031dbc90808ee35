import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { paths } from './paths.js';

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
    throw new CorruptImageError(`cannot read ${file} (${(e as Error).message}); re-import the berth distro (berth enable)`);
  }
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/** Checks an image against its hash and unpacks it once into the cache; returns the unpacked dir. */
export async function verifiedImageDir(image: ImageRef, imagesDir = paths.imagesDir, cacheDir = paths.imageCache): Promise<string> {
  const file = join(imagesDir, image.file);
  const actual = await sha256(file).catch((e: Error) => {
    throw new CorruptImageError(`image ${image.file} is missing (${e.message}); re-import the berth distro (berth enable)`);
  });
  if (actual !== image.sha256) {
    throw new CorruptImageError(
      `image ${image.file} is corrupt: sha256 ${actual.slice(0, 12)}… instead of ${image.sha256.slice(0, 12)}…; re-import the berth distro (berth enable)`,
    );
  }
  const dir = join(cacheDir, image.sha256);
  if (await stat(join(dir, '.complete')).catch(() => undefined)) return dir;
  // Unpack beside the final place and rename: a crash never leaves a half-unpacked image in use.
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  await tar.extract({ file, cwd: partial, preserveOwner: true });
  await mkdir(join(partial, '.complete'));
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return dir;
}
