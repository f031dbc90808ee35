import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImages } from '../../installer/images/build.js';
import { makeRootfsTarball } from '../helpers/busybox-distro.js';
import { BERTH, TestBerth } from '../helpers/berth-manager.js';
import { killWorldAndWait } from '../helpers/world.js';
import { requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('install fault drill');

interface Registered {
  name: string;
  state: string;
  basePath: string;
  owner?: { pid: number };
}

/**
 * Interrupted installs: `kill -9` of every Berth process at a moment of enable, upgrade or
 * uninstall — as closing the terminal or losing power would — and then the next `berth
 * enable` must converge to running, with docker working in the integrated distro and
 * berth-data's images and volumes intact. Recovery times are printed at the end.
 */
describe.runIf(run)('install fault drill', () => {
  let t: TestBerth;
  const recovery: Array<{ fault: string; seconds: number }> = [];
  const registry = (): Registered[] => {
    try {
      return (JSON.parse(readFileSync(join(t.root, 'registry.json'), 'utf8')) as { distros: Registered[] }).distros;
    } catch {
      return []; // being written
    }
  };

  const killAll = async (first?: number) => {
    if (first) process.kill(first, 'SIGKILL'); // the importer, at once: its window may be short
    await killWorldAndWait(t.root);
  };

  /** Starts `berth ARGS`, and kills the whole world the moment `at` says so. */
  const interrupt = async (args: string[], at: () => { hit: boolean; pid?: number }, env: Record<string, string> = {}) => {
    const cli = execa(BERTH, args, { reject: false, env: { ...t.env, ...env }, stdin: 'ignore' });
    let hit = false;
    for (const end = Date.now() + 180_000; !hit && Date.now() < end && cli.exitCode === null;) {
      const now = at();
      if (now.hit) {
        await killAll(now.pid);
        hit = true;
      } else await new Promise((r) => setTimeout(r, 2));
    }
    await cli;
    return hit;
  };
  const installing = (name: string) => () => {
    const r = registry().find((d) => d.name === name && d.state === 'Installing');
    return { hit: !!r, ...(r?.owner ? { pid: r.owner.pid } : {}) };
  };

  /** The next `berth enable` converges: running, docker in the integrated distro; returns seconds. */
  const recover = async (fault: string, env: Record<string, string> = {}) => {
    const t0 = Date.now();
    // Nothing stays half-made: berth-wsl settles what the killed one left.
    const list = await t.wsl(['-l', '-v']);
    expect(list.stdout).not.toMatch(/Installing|Uninstalling/);
    const r = await t.berth(['enable'], env);
    expect(r.exitCode, `enable after: ${fault}\n${r.stderr}`).toBe(0);
    expect((await t.status()).state).toBe('running');
    const integrated = await t.berth(['integrate', 'Ubuntu'], env);
    expect(integrated.exitCode, integrated.stderr).toBe(0);
    // (no registry here: the image is made locally, as after a reset with --delete-data)
    if ((await t.docker(['image', 'inspect', 'busybox'])).exitCode !== 0) await t.importBusybox();
    expect((await t.sh('Ubuntu', 'docker run --rm busybox echo ok')).stdout).toBe('ok');
    recovery.push({ fault, seconds: (Date.now() - t0) / 1000 });
  };
  const volume = async () => (await t.sh('Ubuntu', 'docker run --rm -v drill-data:/d busybox cat /d/f')).stdout;

  beforeAll(async () => {
    t = new TestBerth();
    // Images are built by enable itself here (the first case kills the build).
    delete t.env.BERTH_IMAGES;
    expect((await t.wsl(['--import', 'Ubuntu', join(t.root, 'distros/Ubuntu'), await makeRootfsTarball(t.root, 'user')])).exitCode).toBe(0);
  }, 120_000);
  afterAll(async () => {
    if (recovery.length) console.log(`install fault drill, time to recover:\n${recovery.map((r) => `  ${r.fault.padEnd(52)} ${r.seconds.toFixed(1)} s`).join('\n')}`);
    await t?.cleanup();
  });

  it('kill -9 during the image build', async () => {
    const images = join(t.env.BERTH_HOME!, 'images');
    const building = () => ({ hit: existsSync(images) && readdirSync(images).some((f) => f.endsWith('.partial')) });
    expect(await interrupt(['enable'], building), 'the build was caught').toBe(true);
    await recover('kill -9 during the image build');
  }, 600_000);

  it('kill -9 during the import of berth (first install), then of berth-data', async () => {
    expect((await t.berth(['uninstall', '--delete-data'])).exitCode).toBe(0);
    expect(await interrupt(['enable'], installing('berth')), 'the berth import was caught').toBe(true);
    // The next berth-wsl call rolls the half import back: the name is free again.
    expect((await t.wsl(['-l', '-q'])).stdout.split('\n').map((l) => l.trim())).not.toContain('berth');
    expect(registry().map((d) => d.name)).not.toContain('berth');
    // berth is in by now; berth-data's disk is made next (mkfs into ext4.vhdx.partial, then --import-in-place).
    expect((await t.berth(['uninstall', '--delete-data'])).exitCode).toBe(0);
    const dataDir = join(t.env.BERTH_HOME!, 'distros/berth-data');
    const makingDisk = () => ({ hit: existsSync(dataDir) && readdirSync(dataDir).some((f) => f.endsWith('.partial') || f.startsWith('.unpack-')) });
    expect(await interrupt(['enable'], makingDisk), "the making of berth-data's disk was caught").toBe(true);
    await recover('kill -9 during the imports of a first install');
    expect(readdirSync(dataDir)).toEqual(['ext4.vhdx']); // no half-made disk or unpacked tree left
    // Data for the next cases.
    const setup = await t.sh('Ubuntu', 'docker volume create drill-data >/dev/null && docker run --rm -v drill-data:/d busybox sh -c "echo kept > /d/f" && docker tag busybox drill:kept');
    expect(setup.exitCode, setup.stderr).toBe(0);
  }, 600_000);

  it('kill -9 during the re-import of berth on an upgrade: berth-data and its volume are kept', async () => {
    const newer = join(t.root, 'images-next');
    await buildImages(newer, { version: '9.9.9-next' });
    const upgrade = { BERTH_IMAGES: newer };
    expect((await t.berth(['stop'])).exitCode).toBe(0);
    expect(await interrupt(['start'], installing('berth'), upgrade), 'the re-import was caught').toBe(true);
    await recover('kill -9 during the re-import on an upgrade', upgrade);
    expect((await t.wsl(['-d', 'berth', '--exec', 'cat', '/etc/os-release'])).stdout).toContain('9.9.9-next');
    expect(await volume()).toBe('kept');
    expect((await t.sh('Ubuntu', "docker images --format '{{.Repository}}:{{.Tag}}'")).stdout).toContain('drill:kept');
    t.env.BERTH_IMAGES = newer;
  }, 600_000);

  it('kill -9 during uninstall (data kept): the next enable brings it all back', async () => {
    const uninstalling = () => {
      const r = registry().find((d) => d.name === 'berth' && d.state === 'Uninstalling');
      return { hit: !!r, ...(r?.owner ? { pid: r.owner.pid } : {}) };
    };
    expect(await interrupt(['uninstall'], uninstalling), 'the unregister was caught').toBe(true);
    await recover('kill -9 during uninstall');
    expect(await volume()).toBe('kept');
    expect(registry().filter((d) => d.name === 'berth-data')).toHaveLength(1);
  }, 600_000);

  it('rolls back an import whose berth-wsl is gone, and finishes an unregister (registry left by a killed one)', async () => {
    const dead = (await execa('sh', ['-c', 'echo $$'])).stdout.trim();
    const file = join(t.root, 'registry.json');
    const reg = JSON.parse(readFileSync(file, 'utf8')) as { distros: Array<Record<string, unknown>> };
    reg.distros.push({ id: 'half', name: 'Half', basePath: join(t.root, 'distros/Half'), version: 2, vhd: false, state: 'Installing', owner: { pid: Number(dead), startTime: '1' }, createdDir: true });
    await execa('mkdir', ['-p', join(t.root, 'distros/Half/rootfs/etc')]);
    writeFileSync(file, JSON.stringify(reg));
    const list = await t.wsl(['-l', '-v']);
    expect(list.stdout).not.toContain('Half');
    expect(existsSync(join(t.root, 'distros/Half'))).toBe(false);
    expect((await t.wsl(['-d', 'Half', '--exec', 'true'])).stdout).toContain('There is no distribution with the supplied name');
  });
});
