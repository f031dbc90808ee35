import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { berthVersion, buildImages, type ImageManifest } from './images/build.js';
import type { Progress } from './images/progress.js';

/**
 * The images this Berth installs: from $BERTH_IMAGES (a prebuilt set, as an installer ships),
 * else built into the home once per Berth version.
 */
export async function ensureImages(homeImages: string, progress: Progress, env: NodeJS.ProcessEnv = process.env): Promise<{ dir: string; manifest: ImageManifest }> {
  const dir = env.BERTH_IMAGES || homeImages;
  const existing = await readFile(join(dir, 'manifest.json'), 'utf8').then((t) => JSON.parse(t) as ImageManifest).catch(() => undefined);
  if (existing && (env.BERTH_IMAGES || existing.berthVersion === (await berthVersion()))) return { dir, manifest: existing };
  if (env.BERTH_IMAGES) throw new Error(`BERTH_IMAGES=${dir} has no manifest.json; build the images there or unset it`);
  return { dir, manifest: await buildImages(dir, { progress }) };
}
