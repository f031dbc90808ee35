import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { BindMounts } from '../../wsl-proxy/bind-mounts.js';
import { requireRoot } from '../helpers/wsl-root.js';

const asRoot = requireRoot('bind mounts of a distro folder');
const dir = mkdtempSync(join(tmpdir(), 'berth-bind-mounts-'));
const shared = join(dir, 'shared');
afterAll(async () => {
  // Whatever a failed run left mounted here, deepest first; then the directory.
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(dir))
    .sort()
    .reverse();
  for (const m of mounted) await execa('umount', ['-l', m], { reject: false });
  rmSync(dir, { recursive: true, force: true });
});

const isMounted = (path: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);

describe.runIf(asRoot)("a distro folder's bind mount in the shared area", () => {
  it("stays while a new container's create is in flight, even when the last old container's destroy comes first", async () => {
    mkdirSync(join(shared, 'berth/tools/bin'), { recursive: true });
    symlinkSync('/bin/busybox', join(shared, 'berth/tools/bin/busybox'));
    const source = join(dir, 'home/me/app');
    mkdirSync(source, { recursive: true });
    writeFileSync(join(source, 'index.html'), 'hello');
    const mounts = new BindMounts('Ubuntu', join(dir, 'state/bind-mounts.json'), shared);
    const local = (target: string) => join(shared, target.slice('/mnt/wsl'.length));

    const target = await mounts.ensure(source); // container A's create
    await mounts.attach(target, 'A');
    expect(isMounted(local(target))).toBe(true);
    expect(await mounts.ensure(source)).toBe(target); // B's create reuses the mount...
    await mounts.release('A'); // ...and A's destroy event is handled before B is recorded
    expect(isMounted(local(target))).toBe(true);
    expect(readFileSync(join(local(target), 'index.html'), 'utf8')).toBe('hello');
    await mounts.attach(target, 'B');
    await mounts.release('B'); // the last container gone, nothing in flight: the mount goes
    expect(isMounted(local(target))).toBe(false);

    // At once, in either order: the mount is there for the create that asked for it.
    const t1 = await mounts.ensure(source);
    await mounts.attach(t1, 'C');
    const [, t2] = await Promise.all([mounts.release('C'), mounts.ensure(source)]);
    expect(isMounted(local(t2))).toBe(true);
    await mounts.attach(t2, 'D');
    const [t3] = await Promise.all([mounts.ensure(source), mounts.release('D')]);
    expect(isMounted(local(t3))).toBe(true);
    expect(readFileSync(join(local(t3), 'index.html'), 'utf8')).toBe('hello');
    await mounts.releaseUnused([t3]);
    expect(isMounted(local(t3))).toBe(false);

    // A create that fails gives its mount up (nothing else uses it).
    const again = await mounts.ensure(source);
    await mounts.releaseUnused([again]);
    expect(isMounted(local(again))).toBe(false);
  });
});
