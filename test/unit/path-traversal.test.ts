import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BindMounts } from '../../wsl-proxy/bind-mounts.js';
import { parseDrivePath } from '../../wsl-proxy/client-paths.js';
import { DistroTranslator } from '../../wsl-proxy/distro-translator.js';
import { ProxyError } from '../../wsl-proxy/errors.js';
import { HostDriveTranslator } from '../../wsl-proxy/host-translator.js';

const host = new HostDriveTranslator({ c: '/srv/c', d: '/data' });

/** A distro whose automount root is `root` (e.g. a temp dir + /mnt/) with drives c and d; bind mounts are recorded. */
function distro(autoRoot: string) {
  const ensured: string[] = [];
  const mounts = { ensure: async (p: string) => (ensured.push(p), `/mnt/wsl/berth/bind-mounts/T/${ensured.length}`) } as unknown as BindMounts;
  return { t: new DistroTranslator(mounts, autoRoot, async (l) => ['c', 'd'].includes(l)), ensured };
}

const refused = async (p: Promise<string>, message: RegExp) => {
  const e = await p.then(
    (v) => new Error(`translated to ${v}`),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProxyError);
  expect((e as ProxyError).status).toBe(400);
  expect((e as Error).message).toMatch(message);
};

describe('drive paths, every form (host and distro mode alike)', () => {
  const table: Array<[string, string]> = [
    ['C:\\Users\\me', '/mnt/host/c/Users/me'],
    ['C:/Users/me', '/mnt/host/c/Users/me'],
    ['c:\\Users\\me\\', '/mnt/host/c/Users/me'],
    ['C:', '/mnt/host/c'],
    ['c:\\', '/mnt/host/c'],
    ['\\\\?\\C:\\Users\\me', '/mnt/host/c/Users/me'],
    ['C:\\Users\\.\\me\\..\\you', '/mnt/host/c/Users/you'],
    ['C:\\a\\\\b//c', '/mnt/host/c/a/b/c'],
    ['D:\\x y\\ü', '/mnt/host/d/x y/ü'],
  ];
  it.each(table)('%s → %s', async (source, daemon) => {
    expect(await host.toDaemon(source)).toBe(daemon);
    expect(await distro('/mnt/').t.toDaemon(source, { createMissing: true })).toBe(daemon);
  });

  it('refuses a path that leaves its drive, in both modes (the escapes found by review)', async () => {
    await refused(host.toDaemon('C:\\..\\..\\..\\var\\lib\\docker'), /leaves drive C:/);
    await refused(distro('/mnt/').t.toDaemon('Z:\\..\\..\\..\\', { createMissing: true }), /leaves drive Z:/);
    await refused(distro('/mnt/').t.toDaemon('Z:\\x', { createMissing: true }), /drive Z:, which this distro does not have/);
    await refused(distro('/mnt/').t.toDaemon('C:\\..\\..\\..\\', { createMissing: true }), /leaves drive C:/);
    await refused(host.toDaemon('\\\\?\\C:\\..\\etc'), /leaves drive C:/);
    await refused(host.toDaemon('c:/a/../../b'), /leaves drive C:/);
  });

  it('refuses a drive that is not shared, UNC shares and drive-relative paths, naming the fix', async () => {
    await refused(host.toDaemon('E:\\x'), /not on a shared drive.*"drives"/);
    await refused(distro('/mnt/').t.toDaemon('e:/x', { createMissing: true }), /drive E:, which this distro does not have.*share that drive/);
    for (const unc of ['\\\\server\\share\\x', '//server/share/x', '\\\\?\\UNC\\server\\share']) {
      await refused(host.toDaemon(unc), /network share \(UNC path\).*map the share to a drive letter/);
      await refused(distro('/mnt/').t.toDaemon(unc, { createMissing: true }), /network share/);
    }
    await refused(host.toDaemon('C:dir\\x'), /relative to drive C:'s current directory.*C:\\dir\\x/);
    await refused(host.toDaemon('relative/dir'), /must be an absolute path/);
  });

  it('never maps a generated traversal string outside its drive', async () => {
    const prefixes = ['C:\\', 'C:/', 'c:', '\\\\?\\C:\\', 'C:\\a\\'];
    const parts = ['..', '.', 'a', '..\\..', '../', '.\\..', '...', '..%2f', 'b\\..\\..'];
    let checked = 0;
    for (const prefix of prefixes) {
      for (const a of parts) {
        for (const b of parts) {
          for (const sep of ['\\', '/']) {
            const source = `${prefix}${a}${sep}${b}${sep}etc`;
            for (const translate of [(s: string) => host.toDaemon(s), (s: string) => distro('/mnt/').t.toDaemon(s, { createMissing: true })]) {
              const out = await translate(source).catch((e: unknown) => {
                expect(e).toBeInstanceOf(ProxyError);
                return undefined;
              });
              checked++;
              if (out === undefined) continue;
              expect(out === '/mnt/host/c' || out.startsWith('/mnt/host/c/'), `${source} → ${out}`).toBe(true);
              expect(out.split('/')).not.toContain('..');
            }
          }
        }
      }
    }
    expect(checked).toBe(prefixes.length * parts.length * parts.length * 2 * 2);
  });

  it('parses to letter and segments, with no dot segments left', () => {
    expect(parseDrivePath('C:\\a\\.\\b\\..\\c')).toEqual({ letter: 'c', segments: ['a', 'c'] });
    expect(() => parseDrivePath('C:\\..')).toThrow(/leaves drive C:/);
  });
});

describe('distro mode: the automount root and Linux paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-traversal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('maps /mnt/c/… to the drive and resolves /mnt/c/../.. inside the distro, never to the engine', async () => {
    const root = `${dir}/mnt/`;
    mkdirSync(`${root}c/Users/me`, { recursive: true });
    mkdirSync(`${root}e/data`, { recursive: true });
    const { t, ensured } = distro(root);
    expect(await t.toDaemon(`${root}c/Users/me`, { createMissing: false })).toBe('/mnt/host/c/Users/me');
    // Leaves the drive: what it names is a folder of the distro itself, so it is bind-mounted, not mapped.
    const up = await t.toDaemon(`${root}c/../..`, { createMissing: false });
    expect(up).toMatch(/^\/mnt\/wsl\/berth\/bind-mounts\//);
    expect(ensured.at(-1)).toBe(dir);
    // A folder named like a drive letter that is no mounted drive is just a folder.
    expect(await t.toDaemon(`${root}e/data`, { createMissing: false })).toMatch(/^\/mnt\/wsl\/berth\/bind-mounts\//);
  });

  it('with an automount root of /, a one-letter folder is a drive only if one is mounted there', async () => {
    const { t } = distro('/');
    expect(await t.toDaemon('C:\\x', { createMissing: true })).toBe('/mnt/host/c/x');
    await refused(t.toDaemon('Q:\\x', { createMissing: true }), /drive Q:, which this distro does not have \(no \/q\)/);
  });
});
