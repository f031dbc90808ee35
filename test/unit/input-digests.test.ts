import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The module as a new process (a new backend) loads it: nothing known in memory. */
async function newProcess() {
  vi.resetModules();
  return import('../../installer/images/input-digests.js');
}

// The backend fingerprints the images' inputs at every engine start; a cold start's new
// backend takes the digests an earlier one saved, as long as each file is unchanged.
describe("the images' input digests", () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are taken from an earlier process while a file is unchanged, read again once it changes, and a bad cache costs only a reading', async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-digests-'));
    const file = join(dir, 'berth-relay');
    const cache = join(dir, 'input-digests.json');
    writeFileSync(file, 'one');
    expect(await (await newProcess()).contentDigests([file], cache)).toEqual([sha256('one')]);
    expect(statSync(cache).mode & 0o777).toBe(0o600);
    // A digest planted in the saved file comes back: the file itself was not read again.
    const saved = JSON.parse(readFileSync(cache, 'utf8')) as Record<string, { identity: string; digest: string }>;
    saved[file]!.digest = 'a'.repeat(64);
    writeFileSync(cache, JSON.stringify(saved));
    const second = await newProcess();
    expect(await second.contentDigests([file], cache)).toEqual(['a'.repeat(64)]);
    writeFileSync(file, 'two!');
    expect(await second.contentDigests([file], cache)).toEqual([sha256('two!')]);
    writeFileSync(cache, 'not json');
    expect(await (await newProcess()).contentDigests([file], cache)).toEqual([sha256('two!')]);
  });
});
