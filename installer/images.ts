import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inputFingerprint, type ImageManifest } from './images/inputs.js';
import type { Progress } from './images/progress.js';
import { buildImagesInChild } from './images/build-child.js';

/** The content digests of the images' inputs, kept beside the manifest (images/input-digests.ts). */
const INPUT_DIGESTS = 'input-digests.json';

/**
 * The images this Berth installs: from $BERTH_IMAGES (a prebuilt set, as an installer ships),
 * else built into the home, again whenever their inputs change.
 */
export async function ensureImages(homeImages: string, progress: Progress, env: NodeJS.ProcessEnv = process.env): Promise<{ dir: string; manifest: ImageManifest }> {
  const dir = env.BERTH_IMAGES || homeImages;
  const existing = await readManifest(dir).catch(() => undefined);
  // Rebuilt when anything they are made of changed, not only the version (a checkout moves on).
  if (existing && (env.BERTH_IMAGES || existing.inputs === (await inputFingerprint(undefined, join(dir, INPUT_DIGESTS))))) return { dir, manifest: existing };
  if (env.BERTH_IMAGES) throw new Error(`BERTH_IMAGES=${dir} has no manifest.json; build the images there or unset it`);
  await buildImagesInChild(dir, progress);
  return { dir, manifest: await readManifest(dir) };
}

const readManifest = async (dir: string) => JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
