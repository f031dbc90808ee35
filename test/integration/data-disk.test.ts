import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImages } from '../../installer/images/build.js';
import { TestBerth, until, BERTH } from '../helpers/berth-manager.js';
import { requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('data disk');
const MIB = 2 ** 20;
const GIB = 2 ** 30;

type DiskStatus = { state: 'ok' | 'full'; sizeBytes: number; usedBytes: number; availBytes: number; imageBytes?: number; fix?: string };

/**
 * berth-data as a disk image: converted from an older directory-backed berth-data, given
 * back to the host after a prune, resized, filled, moved (and a move killed half-way).
 * One Berth for the whole suite: each step starts where the one before left it.
 */
describe.runIf(run)('berth-data: a sparse disk image that gives space back, resizes, fills safely and moves', () => {
  let t: TestBerth;

  const disk = async (): Promise<DiskStatus> => ((await t.status()) as unknown as { disk: DiskStatus }).disk;
  /** The image file, as `berth data` names it. */
  const imageFile = async () => /^disk image: (.*)$/m.exec((await t.berth(['data'])).stdout)![1]!;
  const allocated = async () => statSync(await imageFile()).blocks * 512;
  /** Images, volumes and containers as the engine lists them: what a move must keep. */
  const inventory = async () => ({
    images: (await t.docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).stdout.split('\n').sort(),
    volumes: (await t.docker(['volume', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').sort(),
    containers: (await t.docker(['ps', '-a', '--format', '{{.Names}} {{.Image}}'])).stdout.split('\n').sort(),
    volumeFile: (await t.docker(['run', '--pull=never', '--rm', '-v', 'kept:/v', 'busybox', 'cat', '/v/note'])).stdout,
  });

  beforeAll(async () => {
    t = new TestBerth();
    // An older Berth's berth-data: a directory-backed distro with data in its store.
    t.env.BERTH_IMAGES = join(t.root, 'images');
    const manifest = await buildImages(t.env.BERTH_IMAGES);
    const dataDir = join(t.env.BERTH_HOME!, 'distros', 'berth-data');
    mkdirSync(dataDir, { recursive: true });
    const imported = await t.wsl(['--import', 'berth-data', dataDir, join(t.env.BERTH_IMAGES, manifest.images['berth-data'].file), '--version', '2']);
    expect(imported.exitCode, imported.stdout).toBe(0);
    const seeded = await t.sh(
      'berth-data',
      'mkdir -p /srv/berth-data/berth/old && cd /srv/berth-data/berth/old && echo kept > note && ln -s note link && mkdir private && chown 1000:1000 private && chmod 0750 private && mkfifo pipe',
      'root',
    );
    expect(seeded.exitCode, seeded.stderr).toBe(0);
    mkdirSync(t.env.BERTH_HOME!, { recursive: true });
    writeFileSync(join(t.env.BERTH_HOME!, 'settings.json'), JSON.stringify({ diskSizeGiB: 4 }));
    const enabled = await t.berth(['enable']);
    expect(enabled.exitCode, enabled.stderr).toBe(0);
    expect(enabled.stderr).toMatch(/converting berth-data \([^)]*\) to a 4 GiB disk image/);
    await t.importBusybox();
  }, 600_000);
  afterAll(async () => t?.cleanup(), 120_000);

  it('converts a directory-backed berth-data into a disk image on upgrade, losing nothing', async () => {
    const dataDir = join(t.env.BERTH_HOME!, 'distros', 'berth-data');
    expect(readdirSync(dataDir)).toEqual(['ext4.vhdx']); // the old rootfs is gone, no half copy left
    expect(statSync(join(dataDir, 'ext4.vhdx')).size).toBe(4 * GIB);
    const r = await t.sh('berth-data', 'cd /srv/berth-data/berth/old && cat note && readlink link && stat -c "%u:%g %a" private && stat -c %F pipe', 'root');
    expect(r.stdout.trim().split('\n')).toEqual(['kept', 'note', '1000:1000 750', 'fifo']);
    expect((await disk()).sizeBytes).toBeGreaterThan(3.5 * GIB);
  });

  it('gives the space of pruned images back to the host by itself (prune → trim → smaller image file)', async () => {
    // A running container keeps busybox through `prune -a` (the suite has no registry to pull it again).
    expect((await t.docker(['run', '--pull=never', '-d', '--name', 'holder', 'busybox', 'sleep', '600'])).exitCode).toBe(0);
    const before = await allocated();
    const dir = join(t.root, 'big-image');
    mkdirSync(dir);
    const out = createWriteStream(join(dir, 'blob'));
    const chunk = Buffer.alloc(16 * MIB);
    for (let i = 0; i < 64; i++) if (!out.write(randomFillSync(chunk))) await new Promise<void>((r) => out.once('drain', () => r()));
    await new Promise<void>((r) => out.end(() => r()));
    const tar = execa('tar', ['-C', dir, '-c', '.'], { encoding: 'buffer', buffer: false });
    const loaded = await execa('docker', ['--context', 'berth', 'import', '-', 'big:1'], { reject: false, input: tar.stdout, env: { ...process.env, DOCKER_CONFIG: t.env.DOCKER_CONFIG! } });
    expect(loaded.exitCode, loaded.stderr).toBe(0);
    rmSync(dir, { recursive: true });
    await execa('sync');
    const full = await allocated();
    expect(full - before).toBeGreaterThan(900 * MIB);
    const pruned = await t.docker(['system', 'prune', '-af']);
    expect(pruned.exitCode, pruned.stderr).toBe(0);
    const began = Date.now();
    const back = await until(async () => (await allocated()) - before < 64 * MIB, 120_000, 500);
    const after = await allocated();
    console.log(
      `[data-disk] image file allocated: ${(before / MIB).toFixed(0)} MiB before, ${(full / MIB).toFixed(0)} MiB with 1 GiB loaded, ${(after / MIB).toFixed(0)} MiB ${((Date.now() - began) / 1000).toFixed(1)} s after the prune`,
    );
    const trims = readFileSync(join(t.env.BERTH_HOME!, 'logs/berth.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes(',data;'));
    expect(back, `still ${(after / MIB).toFixed(0)} MiB against ${(before / MIB).toFixed(0)} MiB before; the manager's data lines:\n${trims.join('\n')}`).toBe(true);
    expect((await t.docker(['rm', '-f', 'holder'])).exitCode).toBe(0);
  }, 180_000);

  it('grows the disk while the engine runs (`berth data resize`), and records the size in the settings', async () => {
    const r = await t.berth(['data', 'resize', '6']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/berth-data's disk is now 6 GiB/);
    expect((await t.status()).state).toBe('running');
    expect((await disk()).sizeBytes).toBeGreaterThan(5.5 * GIB);
    expect(JSON.parse(readFileSync(join(t.env.BERTH_HOME!, 'settings.json'), 'utf8')).diskSizeGiB).toBe(6);
    expect((await t.docker(['run', '--pull=never', '--rm', 'busybox', 'echo', 'still here'])).stdout.trim()).toBe('still here');
  }, 180_000);

  it('grows it with the engine stopped when the kernel refuses an online grow; a trim due meanwhile waits, then runs', async () => {
    const logFile = join(t.env.BERTH_HOME!, 'logs/berth.log');
    const trimsDone = () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('space freed in berth-data'));
    const trimsBefore = trimsDone().length;
    // A deleted container schedules a trim for 2 s later: inside the window where berth-data is stopped.
    expect((await t.docker(['create', '--pull=never', '--name', 'gone', 'busybox', 'true'])).exitCode).toBe(0);
    expect((await t.docker(['rm', 'gone'])).exitCode).toBe(0);
    // Without CAP_SYS_RESOURCE the kernel refuses to grow a mounted ext4 (as inside a sandbox).
    const r = await t.run('setpriv', ['--bounding-set', '-sys_resource', '--inh-caps', '-sys_resource', BERTH, 'data', 'resize', '7'], { reject: false, env: t.env, stdin: 'ignore' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the disk cannot grow while mounted here \(.*VHD is currently in use.*\); growing it with the engine stopped instead/);
    expect(r.stderr).toMatch(/stopping the engine to resize berth-data's disk/);
    expect(r.stdout).toMatch(/berth-data's disk is now 7 GiB/);
    expect((await t.status()).state).toBe('running');
    expect((await disk()).sizeBytes).toBeGreaterThan(6.5 * GIB);
    const ran = await until(async () => trimsDone().length > trimsBefore, 60_000, 250);
    const lastLines = readFileSync(logFile, 'utf8').split('\n').slice(-60);
    expect(ran, `the trim after the deletion never ran; the log's last lines:\n${lastLines.join('\n')}`).toBe(true);
    expect(readFileSync(logFile, 'utf8')).not.toMatch(/trimming berth-data's disk failed/);
    expect((await t.docker(['run', '--pull=never', '--rm', 'busybox', 'echo', 'still here'])).stdout.trim()).toBe('still here');
  }, 180_000);

  it('refuses to shrink below what berth-data holds, saying what would fit, and changes nothing', async () => {
    const filled = await t.docker(['run', '--pull=never', '--rm', '-v', 'fill:/v', 'busybox', 'dd', 'if=/dev/zero', 'of=/v/f', 'bs=1M', 'count=1536']);
    expect(filled.exitCode, filled.stderr).toBe(0);
    const size = (await disk()).sizeBytes;
    const r = await t.berth(['data', 'resize', '1']);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/does not fit in 1 GiB; free space first \(docker system prune\), or choose at least \d+ GiB\. Nothing was changed\./);
    expect((await t.status()).state).toBe('running');
    expect((await disk()).sizeBytes).toBe(size);
    expect((await t.docker(['run', '--pull=never', '--rm', '-v', 'fill:/v', 'busybox', 'stat', '-c', '%s', '/v/f'])).stdout.trim()).toBe(String(1536 * MIB));
    expect((await t.docker(['volume', 'rm', 'fill'])).exitCode).toBe(0);
  }, 180_000);

  it('a full disk: docker gets ENOSPC, status says `disk: full` with the fix, and after `docker rm` everything works', async () => {
    const shrunk = await t.berth(['data', 'resize', '2']);
    expect(shrunk.exitCode, shrunk.stderr).toBe(0);
    const filler = await t.docker(['run', '--pull=never', '--name', 'filler', 'busybox', 'dd', 'if=/dev/zero', 'of=/fill', 'bs=1M', 'count=4096']);
    expect(filler.exitCode).not.toBe(0);
    expect(filler.stderr).toMatch(/No space left on device/);
    const full = await disk();
    expect(full.state).toBe('full');
    expect(full.fix).toMatch(/docker system prune/);
    expect(full.fix).toMatch(/berth data resize \d+/);
    expect((await t.berth(['status'])).stdout).toMatch(/disk: full/);
    expect((await t.docker(['rm', 'filler'])).exitCode).toBe(0);
    expect(await until(async () => (await disk()).state === 'ok', 60_000, 500)).toBe(true);
    expect((await t.docker(['run', '--pull=never', '--rm', 'busybox', 'echo', 'works'])).stdout.trim()).toBe('works');
    expect((await t.docker(['image', 'ls', '--format', '{{.Repository}}'])).stdout).toMatch(/busybox/);
    // `berth data` and `berth status` count used space alike (ext4's ~16 MiB reserve as used;
    // before, one said 5 MiB and the other 21 MiB of the same disk).
    const data = (await t.berth(['data'])).stdout;
    const shown = /([\d.]+) (KiB|MiB|GiB) used/.exec(data);
    expect(shown, data).not.toBeNull();
    const dataUsed = Number(shown![1]) * { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }[shown![2] as 'KiB' | 'MiB' | 'GiB'];
    const statusUsed = (await disk()).usedBytes;
    expect(Math.abs(dataUsed - statusUsed), `berth data: ${shown![0]}; status: ${statusUsed} bytes used`).toBeLessThan(4 * 2 ** 20);
  }, 180_000);

  it('moves the disk (`berth data move`), then survives kill -9 in the middle of a second move', async () => {
    expect((await t.docker(['create', '--pull=never', '--name', 'keeper', '-v', 'kept:/v', 'busybox', 'true'])).exitCode).toBe(0);
    expect((await t.docker(['run', '--pull=never', '--rm', '-v', 'kept:/v', 'busybox', 'sh', '-c', 'echo moved-safely > /v/note'])).exitCode).toBe(0);
    const before = await inventory();
    const oldFile = await imageFile();
    const first = join(t.root, 'moved-a');
    const moved = await t.berth(['data', 'move', first]);
    expect(moved.exitCode, moved.stderr).toBe(0);
    expect(moved.stderr).toMatch(/verifying: 100%/);
    expect(await imageFile()).toBe(join(first, 'ext4.vhdx'));
    expect(existsSync(oldFile)).toBe(false);
    expect((await t.status()).state).toBe('running');
    expect(await inventory()).toEqual(before);

    // The second move is killed while it copies: the original stays, the half copy goes. 512 MiB
    // of random bytes make the copy last long enough to be caught in it (holes are not read).
    const ballast = await t.docker(['run', '--pull=never', '--rm', '-v', 'kept:/v', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/v/ballast bs=1M count=512 2>/dev/null && sync && sha256sum /v/ballast']);
    expect(ballast.exitCode, ballast.stderr).toBe(0);
    const second = join(t.root, 'moved-b');
    const journal = join(t.env.BERTH_HOME!, 'data-move.json');
    const mover = execa(BERTH, ['data', 'move', second], { reject: false, env: t.env, stdin: 'ignore' });
    const copying = await until(async () => existsSync(join(second, 'ext4.vhdx.partial')) && statSync(join(second, 'ext4.vhdx.partial')).size > 0 && readFileSync(journal, 'utf8').includes('"copying"'), 60_000, 20);
    expect(copying).toBe(true);
    mover.kill('SIGKILL');
    expect((await mover).signal).toBe('SIGKILL');
    const started = await t.berth(['start']);
    expect(started.exitCode, started.stderr).toBe(0);
    const events = (await t.status()).events ?? [];
    expect(events.join('\n')).toMatch(new RegExp(`interrupted move of berth-data was undone: the copy at ${second}/ext4.vhdx was incomplete, so berth-data stays at ${first}/ext4.vhdx`));
    expect(existsSync(journal)).toBe(false);
    expect(existsSync(join(second, 'ext4.vhdx.partial'))).toBe(false);
    expect(await imageFile()).toBe(join(first, 'ext4.vhdx'));
    expect(await inventory()).toEqual(before);
    expect((await t.docker(['run', '--pull=never', '--rm', '-v', 'kept:/v', 'busybox', 'sha256sum', '/v/ballast'])).stdout).toBe(ballast.stdout);
  }, 300_000);

  it('leaves a consistent file system behind (e2fsck, with the engine stopped)', async () => {
    const file = await imageFile();
    expect((await t.berth(['stop'])).exitCode).toBe(0);
    await t.wsl(['--terminate', 'berth-data']);
    expect(t.loopsUnderRoot()).toEqual([]);
    const fsck = await execa('e2fsck', ['-f', '-n', file], { reject: false, all: true });
    expect(fsck.exitCode, fsck.all).toBe(0);
  }, 120_000);
});
