import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { MountedBelowError, removeTree } from '../../common/remove-tree.js';
import { BIND_ROOT, recordCreated } from '../../wsl-proxy/bind-mounts.js';
import { REPO, requireRoot } from '../helpers/wsl-root.js';

const asRoot = requireRoot('the recursive delete beside a mount');
const dir = mkdtempSync(join(tmpdir(), 'berth-remove-tree-'));
afterAll(async () => {
  await execa('umount', ['-l', join(dir, 'root/var/lib')], { reject: false });
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(asRoot)('removeTree, the one recursive delete', () => {
  it('refuses a tree with a mount below it and deletes nothing, then deletes it once unmounted', async () => {
    // A root being torn down with the data store still bind-mounted in it.
    const store = join(dir, 'store');
    const root = join(dir, 'root');
    mkdirSync(store);
    writeFileSync(join(store, 'volume-data'), 'precious');
    mkdirSync(join(root, 'var/lib'), { recursive: true });
    writeFileSync(join(root, 'scratch'), 'x');
    await execa('mount', ['--bind', store, join(root, 'var/lib')]);
    const refused = await removeTree(root).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MountedBelowError);
    expect((refused as Error).message).toBe(`refusing to delete ${root}: ${join(root, 'var/lib')} is mounted there; unmount it first, or the delete would reach into what is mounted`);
    expect(readFileSync(join(store, 'volume-data'), 'utf8')).toBe('precious');
    expect(existsSync(join(root, 'scratch'))).toBe(true);
    await execa('umount', [join(root, 'var/lib')]);
    await removeTree(root);
    expect(existsSync(root)).toBe(false);
    expect(readFileSync(join(store, 'volume-data'), 'utf8')).toBe('precious');
    await removeTree(join(dir, 'never-there'));
  });
});

describe('a rejection nothing handled, in a long-lived process', () => {
  it('is logged with its stack and the process keeps serving (Node 20 would end it)', async () => {
    const script = `import { logUnhandled } from ${JSON.stringify(join(REPO, 'dist/common/unhandled.js'))};
      logUnhandled((l) => console.log(l), 'the test process');
      Promise.reject(new Error('boom in a helper'));
      setTimeout(() => console.log('still serving'), 50);`;
    const r = await execa(process.execPath, ['--input-type=module', '-e', script], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^the test process: a promise failed and nothing handled it \(a bug; kept serving\): Error: boom in a helper\n\s+at /);
    expect(r.stdout).toMatch(/still serving$/);
    const without = await execa(process.execPath, ['--input-type=module', '-e', "Promise.reject(new Error('boom')); setTimeout(() => console.log('still serving'), 50);"], { reject: false });
    expect(without.exitCode).not.toBe(0);
  });
});

describe("a bind-mount record that cannot be written, after a create (issue #25: wsl-proxy's attach was not awaited)", () => {
  it('is a log line naming the container and the mount; nothing rejects unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const logged: string[] = [];
      const failing = { attach: async () => Promise.reject(new Error('ENOSPC: no space left on device')) };
      const target = `${BIND_ROOT}/Ubuntu/abc`;
      recordCreated(failing, 'c0ffee', [{ daemon: target }, { daemon: '/var/lib/docker/volumes/v' }], (l) => logged.push(l));
      await new Promise((r) => setTimeout(r, 20));
      expect(logged).toEqual([`cannot record the bind mount of c0ffee at ${target}: ENOSPC: no space left on device`]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
