import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImagesInChild } from '../../installer/images/build-child.js';
import type { Progress } from '../../installer/images/progress.js';

/**
 * The backend builds the images in a child process: its progress arrives as the build said
 * it, and a failure carries the child's own message. Stand-in programs play the child.
 */
describe('the image build in a child process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-build-child-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const program = (name: string, body: string) => {
    const file = join(dir, `${name}.mjs`);
    writeFileSync(file, body);
    return file;
  };
  const recorder = () => {
    const seen: string[] = [];
    const progress: Progress = { step: (i, t, label) => seen.push(`step ${i}/${t} ${label}`), update: (d, t) => seen.push(`update ${d}/${t}`), done: (s) => seen.push(`done ${s}`) };
    return { seen, progress };
  };

  it('passes the progress on in order, and is given the output directory', async () => {
    const child = program(
      'ok',
      `const say = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
       say({ step: { index: 1, total: 4, label: process.argv[2] } }); say({ update: { done: 5, total: 10 } }); say({ done: 'system-abc.tar.gz (1.0 MiB)' });`,
    );
    const { seen, progress } = recorder();
    await buildImagesInChild('/out/dir', progress, child);
    expect(seen).toEqual(['step 1/4 /out/dir', 'update 5/10', 'done system-abc.tar.gz (1.0 MiB)']);
  });

  it("fails with the child's own message", async () => {
    const child = program('fails', `process.stderr.write('busybox not found; install the Debian package busybox-static\\n'); process.exit(1);`);
    await expect(buildImagesInChild(dir, recorder().progress, child)).rejects.toThrow(/^building the images failed: busybox not found; install the Debian package busybox-static$/);
  });

  it('ignores a line that is not a progress message, and names it if the build then fails', async () => {
    const child = program('odd', `process.stdout.write('{"step": {"index": "one"}}\\n'); process.exit(3);`);
    const { seen, progress } = recorder();
    await expect(buildImagesInChild(dir, progress, child)).rejects.toThrow(/something unexpected .*\{"step": \{"index": "one"\}\}/);
    expect(seen).toEqual([]);
  });

  it('says how a child that died without a word ended', async () => {
    const child = program('killed', `process.kill(process.pid, 'SIGKILL');`);
    await expect(buildImagesInChild(dir, recorder().progress, child)).rejects.toThrow(/building the images failed: killed by SIGKILL/);
  });
});
