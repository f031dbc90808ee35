// Builds Berth's four images: node dist/installer/images/cli.js OUTDIR
import { buildImages } from './build.js';
import { consoleProgress } from './progress.js';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: build-images OUTDIR');
  process.exit(2);
}
try {
  const manifest = await buildImages(outDir, { progress: consoleProgress() });
  for (const image of Object.values(manifest.images)) console.log(`${image.kind}\t${image.file}\t${image.sha256}`);
} catch (e) {
  console.error(`build-images: ${(e as Error).message}`);
  process.exit(1);
}
