import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../common/atomic-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces the file whole, with the mode asked for whatever the umask, and leaves no temporary file', async () => {
    const file = join(dir, 'settings.json');
    writeFileSync(file, 'old\n');
    const umask = process.umask(0o077);
    try {
      await writeFileAtomic(file, 'new\n', 0o644);
    } finally {
      process.umask(umask);
    }
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['settings.json']);
  });

  it('never writes through a symlink planted at its (predictable) temporary names', async () => {
    const file = join(dir, 'state.json');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched\n');
    // Its temporary names are the path, the pid and a counter: plant a link at the next 50.
    const planted = Array.from({ length: 50 }, (_, i) => `state.json.${process.pid}.${i + 1}.tmp`);
    for (const name of planted) symlinkSync(victim, join(dir, name));
    await writeFileAtomic(file, 'written\n', 0o600);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(readFileSync(file, 'utf8')).toBe('written\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['state.json', 'victim', ...planted].sort());
  });
});
