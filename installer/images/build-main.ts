import { buildImages } from './build.js';
import type { BuildMessage } from './build-messages.js';

/**
 * `berth-build-images OUTDIR`: the image build as a process of its own, which the backend
 * runs (build-child.ts). A build reads and compresses ~200 MB; done inside the always-running
 * backend, the allocator kept ~12 MiB of it resident afterwards. Progress goes out as JSON
 * lines; a failure is its message on stderr and exit 1.
 */
const say = (m: BuildMessage) => process.stdout.write(`${JSON.stringify(m)}\n`);

const outDir = process.argv[2];
if (!outDir || process.argv.length !== 3) {
  process.stderr.write('usage: berth-build-images OUTDIR\n');
  process.exit(2);
}
try {
  await buildImages(outDir, {
    progress: {
      step: (index, total, label) => say({ step: { index, total, label } }),
      update: (done, total) => say({ update: { done, total } }),
      done: (summary) => say({ done: summary }),
    },
  });
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
}
