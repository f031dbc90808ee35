import type { ApiDeps } from '../../installer/dashboard/api.js';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync, ftruncateSync, truncateSync } from 'node:fs';

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSizeString, parseWslArgs, UsageError } from '../../wsl-host/linux/args.js';
import { diskState, fullDiskAdvice, fullThreshold, parseDf } from '../../data-distro/disk-usage.js';
import { DiskSwap, stagingOf } from '../../data-distro/disk-swap.js';
import { DataDisk, DataDiskRefused, GIB } from '../../data-distro/data-disk.js';
import { AutoTrim, TRIM_QUIET_MS } from '../../data-distro/auto-trim.js';
import { copySparse, digestSparse } from '../../data-distro/sparse-copy.js';
import { parseFilefrag } from '../../data-distro/data-extents.js';
import { firstDifference } from '../../data-distro/verify-copy.js';
import { EngineWaker } from '../../common/engine-waker.js';
import { ResourceSaver } from '../../bootstrap-distro/agent/resource-saver.js';
import { FakeWsl } from '../helpers/fake-wsl.js';
import { createServer as createHttpServer } from 'node:http';

const root = mkdtempSync(join(tmpdir(), 'berth-data-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = join(root, String(n++));
  mkdirSync(d, { recursive: true });
  return d;
};

/** A FakeWsl that records the disk verbs and answers `df` with the given usage. */
class DiskWsl extends FakeWsl {
  calls: string[] = [];
  registered = true;
  override async list() {
    return this.registered ? [{ name: 'berth-data', state: 'Stopped' as const, version: 2 as const, isDefault: false }] : [];
  }
  override async unregister(name: string) {
    this.calls.push(`unregister ${name}`);
    this.registered = false;
  }
  override async importInPlace(name: string, file: string) {
    this.calls.push(`import-in-place ${name} ${file}`);
    this.registered = true;
  }
  override async setSparse(name: string, sparse: boolean) {
    this.calls.push(`set-sparse ${name} ${sparse}`);
  }
  override async resizeDisk(name: string, bytes: number) {
    this.calls.push(`resize ${name} ${bytes / GIB}`);
  }
  override async terminate(name: string) {
    this.calls.push(`terminate ${name}`);
  }
}

const dfOutput = (sizeKiB: number, usedKiB: number, reserveKiB = 0) =>
  `Filesystem           1024-blocks    Used Available Capacity Mounted on\n/dev/loop0            ${sizeKiB}  ${usedKiB}  ${sizeKiB - usedKiB - reserveKiB}  1% /\n`;

describe("wsl.exe's disk verbs on the Linux WSL host", () => {
  it('parses --manage and --import-in-place as wsl.exe spells them, and refuses the rest', () => {
    expect(parseWslArgs(['--manage', 'd', '--resize', '64GB'])).toEqual({ kind: 'manage', name: 'd', change: { kind: 'resize', bytes: 64 * GIB } });
    expect(parseWslArgs(['--manage', 'd', '--set-sparse', 'true'])).toEqual({ kind: 'manage', name: 'd', change: { kind: 'set-sparse', sparse: true } });
    expect(parseWslArgs(['--manage', 'd', '-s', 'false'])).toEqual({ kind: 'manage', name: 'd', change: { kind: 'set-sparse', sparse: false } });
    expect(parseWslArgs(['--import-in-place', 'd', '/x/ext4.vhdx'])).toEqual({ kind: 'import-in-place', name: 'd', file: '/x/ext4.vhdx' });
    expect(() => parseWslArgs(['--manage', 'd', '--resize', 'lots'])).toThrow(UsageError);
    expect(() => parseWslArgs(['--manage', 'd', '--set-sparse', 'yes'])).toThrow(UsageError);
    expect(() => parseWslArgs(['--manage', 'd', '--move'])).toThrow(UsageError);
    expect(parseSizeString('512MB')).toBe(512 * 2 ** 20);
    expect(parseSizeString('1TB')).toBe(2 ** 40);
    expect(parseSizeString('0GB')).toBeUndefined();
  });
});

describe("berth-data's disk usage", () => {
  it('reads df -P -k, and calls the disk full below 1% free (at most 256 MiB), with both ways out', () => {
    const u = parseDf(dfOutput(1_048_576, 1_048_000));
    expect(u).toEqual({ sizeBytes: GIB, usedBytes: 1_048_000 * 1024, availBytes: 576 * 1024 });
    expect(diskState(u)).toBe('full');
    expect(diskState(parseDf(dfOutput(1_048_576, 500_000)))).toBe('ok');
    // ext4's reserve (df shows it in neither column) counts as used, as in `berth status`.
    expect(parseDf(dfOutput(65_936_940, 4_820, 16_384)).usedBytes).toBe((4_820 + 16_384) * 1024);
    expect(fullThreshold(64 * GIB)).toBe(256 * 2 ** 20);
    expect(fullDiskAdvice(u)).toMatch(/docker system prune.*berth data resize 2/);
    expect(() => parseDf('garbage')).toThrow(/df printed what Berth cannot read/);
  });
});

describe('the move journal: a killed move leaves exactly one complete copy in use', () => {
  const setup = (phase: 'copying' | 'verified', staging: boolean, registered: boolean) => {
    const d = fresh();
    const to = join(d, 'new', 'ext4.vhdx');
    mkdirSync(join(d, 'new'));
    if (staging) writeFileSync(stagingOf(to), 'image');
    const journal = join(d, 'data-move.json');
    writeFileSync(journal, JSON.stringify({ reason: 'move', from: join(d, 'old.vhdx'), to, phase }));
    const wsl = new DiskWsl();
    wsl.registered = registered;
    const recorded: string[] = [];
    const swap = new DiskSwap(wsl, journal, async (file) => void recorded.push(file));
    return { to, journal, wsl, swap, recorded };
  };

  it('drops a half copy (the old registration was never touched)', async () => {
    const s = setup('copying', true, true);
    expect(await s.swap.recover(() => undefined)).toMatch(/undone: the copy at .* was incomplete, so berth-data stays at .*old\.vhdx/);
    expect(existsSync(stagingOf(s.to))).toBe(false);
    expect(existsSync(s.journal)).toBe(false);
    expect(s.wsl.calls).toEqual([]);
  });

  it('finishes a verified copy: unregisters the old one, then registers the new one where it lies', async () => {
    const s = setup('verified', true, true);
    expect(await s.swap.recover(() => undefined)).toMatch(/finished: its copy at .* was complete and verified/);
    expect(s.wsl.calls).toEqual(['unregister berth-data', `import-in-place berth-data ${s.to}`, 'set-sparse berth-data true']);
    expect(readFileSync(s.to, 'utf8')).toBe('image');
    expect(s.recorded).toEqual([s.to]);
    expect(existsSync(s.journal)).toBe(false);
  });

  it('killed between the unregister and the import: only the import is left to do', async () => {
    const s = setup('verified', false, false);
    writeFileSync(s.to, 'image');
    await s.swap.recover(() => undefined);
    expect(s.wsl.calls).toEqual([`import-in-place berth-data ${s.to}`, 'set-sparse berth-data true']);
  });

  it('says nothing when there is no journal, and refuses a corrupt one without touching anything', async () => {
    const d = fresh();
    const wsl = new DiskWsl();
    expect(await new DiskSwap(wsl, join(d, 'none.json'), async () => {}).recover(() => undefined)).toBeUndefined();
    writeFileSync(join(d, 'bad.json'), '{"phase":');
    await expect(new DiskSwap(wsl, join(d, 'bad.json'), async () => {}).recover(() => undefined)).rejects.toThrow(/move journal .* is corrupt; nothing was changed/);
    expect(wsl.calls).toEqual([]);
  });
});

describe('berth data resize', () => {
  const engine = () => {
    const calls: string[] = [];
    return { calls, stop: async () => void calls.push('stop'), start: async () => void calls.push('start') };
  };

  it('refuses a shrink the data does not fit into, saying what would, and touches nothing', async () => {
    const wsl = new DiskWsl();
    wsl.onRun = () => ({ exitCode: 0, stdout: dfOutput(64 * 1024 * 1024, 1_200_000), stderr: '' });
    const e = engine();
    const disk = new DataDisk(wsl, { dir: fresh(), journal: join(fresh(), 'j'), recordFile: async () => {} }, 'linux');
    const refused = await disk.resize(1, e, () => {}).catch((x: unknown) => x);
    expect(refused).toBeInstanceOf(DataDiskRefused);
    expect((refused as Error).message).toMatch(/holds 1\.1 GiB, which does not fit in 1 GiB; .*choose at least 2 GiB\. Nothing was changed\./);
    expect(wsl.calls).toEqual([]);
    expect(e.calls).toEqual([]);
  });

  it('grows in place on the Linux WSL host, and stops berth-data around the resize on Windows and for a shrink', async () => {
    const df = { exitCode: 0, stdout: dfOutput(8 * 1024 * 1024, 100_000), stderr: '' };
    for (const [platform, target, expected, engineCalls] of [
      ['linux', 16, ['resize berth-data 16'], []],
      ['win32', 16, ['terminate berth-data', 'resize berth-data 16'], ['stop', 'start']],
      ['linux', 4, ['terminate berth-data', 'resize berth-data 4'], ['stop', 'start']],
    ] as const) {
      const wsl = new DiskWsl();
      wsl.onRun = (_d, argv) => (argv[0] === 'df' ? df : { exitCode: 0, stdout: '', stderr: '' });
      const e = engine();
      await new DataDisk(wsl, { dir: fresh(), journal: join(fresh(), 'j'), recordFile: async () => {} }, platform).resize(target, e, () => {});
      expect(wsl.calls, `${platform} → ${target} GiB`).toEqual(expected);
      expect(e.calls).toEqual(engineCalls);
    }
  });
});

describe('copying a disk image', () => {
  it('keeps holes as holes, and the digest tells a faithful copy from a changed one', async () => {
    const d = fresh();
    const from = join(d, 'from.img');
    const fd = openSync(from, 'w');
    ftruncateSync(fd, 64 * 2 ** 20);
    writeSync(fd, Buffer.from('superblock'), 0, 10, 1024);
    writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, 40 * 2 ** 20);
    closeSync(fd);
    const digest = await copySparse(from, join(d, 'to.img'));
    expect(statSync(join(d, 'to.img')).size).toBe(64 * 2 ** 20);
    expect(statSync(join(d, 'to.img')).blocks * 512).toBeLessThan(16 * 2 ** 20);
    expect(await digestSparse(join(d, 'to.img'))).toBe(digest);
    const fd2 = openSync(join(d, 'to.img'), 'r+');
    writeSync(fd2, Buffer.from('x'), 0, 1, 50 * 2 ** 20);
    closeSync(fd2);
    expect(await digestSparse(join(d, 'to.img'))).not.toBe(digest);
    await expect(copySparse(from, join(d, 'to.img'))).rejects.toThrow(/EEXIST/);
  });

  it('reads only where the filesystem holds data, with the digest of a whole read', async () => {
    const recorded = [
      'Filesystem type is: ef53',
      'File size of sp.img is 1073741824 (262144 blocks of 4096 bytes)',
      ' ext:     logical_offset:        physical_offset: length:   expected: flags:',
      '   0:     1000..    1002:   19500008..  19500010:      3:       1000:',
      '   1:   179200..  179711:   19502080..  19502591:    512:   19678208: last',
      'sp.img: 2 extents found',
    ].join('\n');
    expect(parseFilefrag(recorded)).toEqual([
      { start: 1000 * 4096, end: 1003 * 4096 },
      { start: 179200 * 4096, end: 179712 * 4096 },
    ]);
    expect(() => parseFilefrag('filefrag: nonsense')).toThrow(/no block size/);

    const d = fresh();
    const file = join(d, 'disk.img');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 256 * 2 ** 20);
    writeSync(fd, Buffer.alloc(8192, 1), 0, 8192, 4 * 2 ** 20 - 4096); // across a chunk boundary
    writeSync(fd, Buffer.alloc(4096, 2), 0, 4096, 200 * 2 ** 20);
    closeSync(fd);
    const whole = await digestSparse(file, undefined, null);
    expect(await digestSparse(file)).toBe(whole); // as the filesystem says (or a whole read where it cannot)
    const exact = [
      { start: 4 * 2 ** 20 - 4096, end: 4 * 2 ** 20 + 4096 },
      { start: 200 * 2 ** 20, end: 200 * 2 ** 20 + 4096 },
    ];
    expect(await digestSparse(file, undefined, exact)).toBe(whole);
    // A chunk outside every extent is taken as zeros without being read: proof that holes are skipped.
    expect(await digestSparse(file, undefined, exact.slice(0, 1))).not.toBe(whole);
    const zeros = join(d, 'zeros.img');
    closeSync(openSync(zeros, 'w'));
    truncateSync(zeros, 256 * 2 ** 20);
    expect(await digestSparse(file, undefined, [])).toBe(await digestSparse(zeros, undefined, null));
  });

  it('finds the first difference between two trees (mode, link target, a missing file)', async () => {
    const [a, b] = [fresh(), fresh()];
    for (const t of [a, b]) {
      mkdirSync(join(t, 'dir'));
      writeFileSync(join(t, 'dir', 'f'), 'same');
    }
    expect(await firstDifference(a, b)).toBeUndefined();
    chmodSync(join(b, 'dir', 'f'), 0o600);
    expect(await firstDifference(a, b)).toMatch(/^dir\/f differs: f 644 .* in the original, f 600/);
    rmSync(join(b, 'dir', 'f'));
    expect(await firstDifference(a, b)).toBe('dir/f is missing from the copy');
  });
});

describe('the automatic trim', () => {
  it('trims once after a burst of deletions has settled, and again for one that came during a trim', async () => {
    const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
    let now = 0;
    const advance = async (ms: number) => {
      now += ms;
      for (const t of timers.filter((x) => !x.cancelled && x.at <= now)) {
        t.cancelled = true;
        t.fn();
      }
      await new Promise((r) => setImmediate(r));
    };
    let trims = 0;
    let release: () => void = () => {};
    const trim = new AutoTrim({
      daemon: join(root, 'no-daemon.sock'),
      trim: () => new Promise((r) => ((trims += 1), (release = () => r('trimmed')))),
      log: () => {},
      after: (ms, fn) => {
        const t = { at: now + ms, fn, cancelled: false };
        timers.push(t);
        return () => void (t.cancelled = true);
      },
    });
    for (let i = 0; i < 50; i++) trim.schedule();
    await advance(TRIM_QUIET_MS - 1);
    expect(trims).toBe(0);
    await advance(1);
    expect(trims).toBe(1);
    trim.schedule(); // an event while the trim runs
    await advance(TRIM_QUIET_MS);
    expect(trims).toBe(1);
    release();
    await new Promise((r) => setImmediate(r));
    await advance(TRIM_QUIET_MS);
    expect(trims).toBe(2);
    release();
  });
});

describe('the automatic trim, following the engine', () => {
  it('trims on each (re)connection of its event stream too: deletions in a dockerd it never reached leave no event', async () => {
    const path = join(fresh(), 'docker.sock');
    const streams: Array<{ destroy(): void }> = [];
    const daemon = createHttpServer((req, res) => {
      if (!req.url?.startsWith('/events')) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
      streams.push(res);
    });
    await new Promise<void>((r) => daemon.listen(path, r));
    let trims = 0;
    const trim = new AutoTrim({ daemon: path, trim: async () => String((trims += 1)), log: () => {}, after: (_ms, fn) => (setImmediate(fn), () => {}) });
    try {
      trim.start();
      for (let i = 0; i < 200 && trims < 1; i++) await new Promise((r) => setTimeout(r, 10));
      expect(trims).toBe(1);
      streams[0]!.destroy(); // dockerd went away and came back
      for (let i = 0; i < 300 && trims < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(streams).toHaveLength(2);
      expect(trims).toBe(2);
    } finally {
      trim.stop();
      daemon.closeAllConnections();
      daemon.close();
    }
  });
});

describe('Resource Saver', () => {
  /** A fake agent control socket counting touches. */
  async function agent(delayMs = 0): Promise<{ path: string; touches: () => number; server: ReturnType<typeof createHttpServer> }> {
    let count = 0;
    const path = join(fresh(), 'agent.sock');
    const server = createHttpServer((_req, res) => {
      count++;
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"resumed":true}'), delayMs);
    });
    await new Promise<void>((r) => server.listen(path, r));
    return { path, touches: () => count, server };
  }

  it('the proxies touch once per quiet spell, share one touch in flight, and go on without an agent', async () => {
    const a = await agent(50);
    let now = 0;
    const waker = new EngineWaker(a.path, () => now);
    await Promise.all([waker.beforeRequest(), waker.beforeRequest(), waker.beforeRequest()]);
    expect(a.touches()).toBe(1);
    now += 4000;
    await waker.beforeRequest();
    expect(a.touches()).toBe(1);
    now += 2000;
    await waker.beforeRequest();
    expect(a.touches()).toBe(2);
    a.server.close();
    await new EngineWaker(join(root, 'nothing.sock')).beforeRequest(); // resolves: the request goes on
  });

  it('pauses only after the timeout with no request and no running container, and a touch resumes first', async () => {
    let now = 0;
    const events: string[] = [];
    let running: unknown[] = [];
    const daemonPath = join(fresh(), 'docker.sock');
    const daemon = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(running)));
    await new Promise<void>((r) => daemon.listen(daemonPath, r));
    const saver = new ResourceSaver({
      timeoutSeconds: 30,
      freezer: { freeze: async () => void events.push('freeze'), thaw: async () => void events.push('thaw'), reclaimPageCache: async () => void events.push('reclaim') },
      daemon: daemonPath,
      log: () => {},
      now: () => now,
    });
    now = 29_000;
    await saver.check();
    expect(saver.isPaused).toBe(false);
    running = [{ Id: 'x' }];
    now = 31_000;
    await saver.check();
    expect(saver.isPaused).toBe(false); // a running container keeps it awake (and restarts the clock)
    running = [];
    now = 45_000;
    await saver.check();
    expect(saver.isPaused).toBe(false);
    now = 62_000;
    await saver.check();
    expect(saver.isPaused).toBe(true);
    expect(events).toEqual(['reclaim', 'freeze']);
    await saver.touch();
    expect(saver.isPaused).toBe(false);
    expect(events).toEqual(['reclaim', 'freeze', 'thaw']);
    daemon.close();
  });
});

describe('the dashboard\'s "Disk image location"', () => {
  it('starts a move, and answers a move that cannot work with its reason (400) before anything stops', async () => {
    const { moveDataDisk } = await import('../../installer/dashboard/api.js');
    const moved: string[] = [];
    const deps = {
      dataDisk: {
        file: async () => '/old/ext4.vhdx',
        move: async (dir: string) => {
          if (!dir.startsWith('/')) throw new DataDiskRefused(`${dir} is not an absolute path`);
          moved.push(dir);
        },
      },
    } as unknown as ApiDeps;
    expect((await moveDataDisk(deps, {})).status).toBe(400);
    const refused = await moveDataDisk(deps, { dir: 'relative/dir' });
    expect(refused).toEqual({ status: 400, body: { message: 'relative/dir is not an absolute path' } });
    expect((await moveDataDisk(deps, { dir: '/new' })).status).toBe(202);
    expect(moved).toEqual(['/new']);
  });
});
