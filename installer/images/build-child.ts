import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { onJsonLines } from '../../common/json-lines.js';
import { exitReason } from '../../common/process.js';
import { BERTH_REPO } from '../repo.js';
import { buildMessageSchema } from './build-messages.js';
import type { Progress } from './progress.js';

/** The build's own program (scripts/build-bundles.mjs bundles build-main.ts there). */
export const BUILD_PROGRAM = join(BERTH_REPO, 'dist/host/berth-build-images.mjs');

/**
 * Builds the images in a child process (build-main.ts), so that what a build allocates goes
 * away with it instead of staying in the caller's heap; its progress lines are checked and
 * passed on. Rejects with the child's own message when it fails.
 */
export async function buildImagesInChild(outDir: string, progress: Progress, program = BUILD_PROGRAM): Promise<void> {
  const child = spawn(process.execPath, [program, outDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = exitReason(child);
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  onJsonLines(
    child.stdout,
    buildMessageSchema,
    (m) => {
      if ('step' in m) progress.step(m.step.index, m.step.total, m.step.label);
      else if ('update' in m) progress.update(m.update.done, m.update.total);
      else progress.done(m.done);
    },
    (line, why) => stderr.push(`the image build said something unexpected (${why}): ${line.slice(0, 200)}\n`),
  );
  // Every line read before deciding: 'exit' can come before the last of stdout.
  const [why] = await Promise.all([exited, finished(child.stdout).catch(() => undefined)]);
  if (why !== 'exit 0') throw new Error(`building the images failed: ${stderr.join('').trim() || why}`);
}
