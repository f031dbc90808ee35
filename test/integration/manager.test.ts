import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImages } from '../../installer/images/build.js';
import { makeRootfsTarball } from '../helpers/busybox-distro.js';
import { killWorld } from '../helpers/world.js';
import { TestBerth, until } from '../helpers/berth-manager.js';
import { requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('manager');

describe.runIf(run)('berth: enable, status, recovery, upgrade, reset', () => {
  let t: TestBerth;

  beforeAll(() => {
    t = new TestBerth();
  });
  afterAll(async () => t?.cleanup());

  it('reports stopped before anything runs', async () => {
    const r = await t.berth(['status', '--json']);
    expect(r.exitCode).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({ state: 'stopped', endpoint: `unix://${t.env.BERTH_HOME}/run/docker.sock`, services: [], integrations: [] });
  });

  it('enable builds, imports and starts; docker --context berth runs a container', async () => {
    const r = await t.berth(['enable']);
    expect(r.stderr).toContain('… importing berth');
    expect(r.stdout).toContain('Berth is running.');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(t.env.BERTH_HOME!, 'settings.json'), 'utf8')).wslEngine).toBe(true);
    await t.importBusybox();
    expect((await t.docker(['run', '--rm', 'busybox', 'echo', 'ok'])).stdout).toBe('ok');
    // The context exists; the user's current one is untouched.
    const current = await execa('docker', ['context', 'show'], { env: { ...process.env, DOCKER_CONFIG: t.env.DOCKER_CONFIG! } });
    expect(current.stdout).toBe('default');
    const s = await t.status();
    expect(s.state).toBe('running');
    expect(s.services.map((x) => [x.name, x.state])).toEqual([
      ['containerd', 'running'],
      ['dockerd', 'running'],
    ]);
    for (const x of s.services) expect(x.pid).toBeGreaterThan(0);
  }, 180_000);

  it('translates host paths on shared drives in bind mounts, and names the setting otherwise', async () => {
    const project = join(t.root, 'drives/c/Users/me/proj');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'f'), 'from the host drive\n');
    expect((await t.docker(['run', '--rm', '-v', `${project}:/p`, 'busybox', 'cat', '/p/f'])).stdout).toBe('from the host drive');
    expect((await t.docker(['run', '--rm', '-v', 'C:\\Users\\me\\proj:/p:ro', 'busybox', 'cat', '/p/f'])).stdout).toBe('from the host drive');
    expect((await t.docker(['run', '--rm', '--mount', `type=bind,source=${project},target=/m`, 'busybox', 'cat', '/m/f'])).stdout).toBe('from the host drive');
    const outside = await t.docker(['run', '--rm', '-v', '/etc:/x', 'busybox', 'true']);
    expect(outside.exitCode).not.toBe(0);
    expect(outside.stderr).toContain('/etc is not on a shared drive');
    expect(outside.stderr).toContain('add its drive to "drives" in Berth\'s settings');
  });

  it('start is idempotent and concurrent starts coalesce into one backend', async () => {
    const before = (await t.status()) as { pid?: number };
    const [a, b] = await Promise.all([t.berth(['start']), t.berth(['start'])]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(((await t.status()) as { pid?: number }).pid).toBe(before.pid);
  });

  it('comes back by itself after berth-wsl --shutdown, with its images', async () => {
    await t.wsl(['--shutdown']);
    // Running once the engine answers and its link is attached again (the daemon answers a little before).
    expect(await until(async () => (await t.status()).state === 'running' && (await t.docker(['image', 'ls', '-q'])).stdout !== '', 60_000)).toBe(true);
    const s = await t.status();
    expect(s.state).toBe('running');
    expect(s.events?.some((e) => e.includes('engine stopped unexpectedly'))).toBe(true);
    expect((await t.docker(['run', '--rm', 'busybox', 'echo', 'again'])).stdout).toBe('again');
  }, 120_000);

  it('comes back after kill -9 of every Berth process, losing nothing', async () => {
    // On failure, show docker's own words.
    expect(await t.docker(['volume', 'create', 'v1'])).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await t.docker(['run', '--rm', '-v', 'v1:/d', 'busybox', 'sh', '-c', 'echo precious > /d/f'])).toMatchObject({ exitCode: 0, stderr: '' });
    // Every process of this test's world (never by name machine-wide).
    expect(killWorld(t.root)).toBeGreaterThan(0);
    expect(await until(async () => (await t.status()).state === 'stopped', 10_000)).toBe(true);
    // While it comes back, status says starting.
    const starting = t.berth(['start']);
    const seen = new Set<string>();
    await until(
      async () => {
        seen.add((await t.status()).state);
        return seen.has('running');
      },
      60_000,
      50,
    );
    expect(seen.has('starting')).toBe(true);
    const restarted = await starting;
    expect(restarted.exitCode, restarted.stderr).toBe(0);
    expect((await t.docker(['run', '--rm', '-v', 'v1:/d', 'busybox', 'cat', '/d/f'])).stdout).toBe('precious');
  }, 120_000);

  it('reports a failed start with the reason, and status says failed', async () => {
    expect((await t.berth(['stop'])).exitCode).toBe(0);
    const images = join(t.env.BERTH_HOME!, 'distros/berth/rootfs/opt/berth/images');
    const system = readdirSync(images).find((f) => f.startsWith('system-'))!;
    copyFileSync(join(images, system), join(t.root, 'system.keep'));
    writeFileSync(join(images, system), 'garbage');
    const r = await t.berth(['start']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/the engine failed to start: .*is corrupt/s);
    expect((await t.status()).state).toBe('failed');
    expect((await t.berth(['stop'])).exitCode).toBe(0);
    expect((await t.status()).state).toBe('stopped');
    copyFileSync(join(t.root, 'system.keep'), join(images, system));
  }, 120_000);

  it('upgrades berth to a newer image and keeps berth-data: images, containers, volumes', async () => {
    expect((await t.berth(['start'])).exitCode).toBe(0);
    expect((await t.docker(['create', '--name', 'keepme', 'busybox', 'true'])).exitCode).toBe(0);
    const newer = join(t.root, 'images-next');
    await buildImages(newer, { version: '9.9.9-next' });
    const r = await t.berth(['restart'], { BERTH_IMAGES: newer });
    expect(r.stderr).toContain('upgrading berth');
    expect(r.exitCode).toBe(0);
    expect((await t.wsl(['-d', 'berth', '--exec', 'cat', '/etc/os-release'])).stdout).toContain('BERTH_VERSION="9.9.9-next"');
    expect((await t.docker(['ps', '-a', '--format', '{{.Names}}'])).stdout).toContain('keepme');
    expect((await t.docker(['run', '--rm', '-v', 'v1:/d', 'busybox', 'cat', '/d/f'])).stdout).toBe('precious');
  }, 240_000);

  it('refuses reset without --yes; reset --yes wipes the data and starts fresh', async () => {
    const refused = await t.berth(['reset']);
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain('berth reset --yes');
    expect((await t.docker(['volume', 'ls', '-q'])).stdout).toContain('v1');
    const r = await t.berth(['reset', '--yes'], { BERTH_IMAGES: join(t.root, 'images-next') });
    expect(r.exitCode).toBe(0);
    expect((await t.docker(['volume', 'ls', '-q'])).stdout).toBe('');
    expect((await t.docker(['image', 'ls', '-q'])).stdout).toBe('');
  }, 180_000);

  it('disable stops the engine and turns the switch off, keeping the distros', async () => {
    expect((await t.berth(['disable'])).exitCode).toBe(0);
    expect((await t.status()).state).toBe('stopped');
    expect(JSON.parse(readFileSync(join(t.env.BERTH_HOME!, 'settings.json'), 'utf8')).wslEngine).toBe(false);
    expect((await t.wsl(['-l', '-q'])).stdout).toMatch(/berth-data/);
  }, 60_000);

  it('uninstall keeps the data unless told to delete it, and removes the docker context', async () => {
    const kept = await t.berth(['uninstall']);
    expect(kept.stdout).toContain('berth-data kept');
    expect((await t.wsl(['-l', '-q'])).stdout.split(/\r?\n/).filter(Boolean)).toEqual(['berth-data']);
    const contexts = await execa('docker', ['context', 'ls', '--format', '{{.Name}}'], { env: { ...process.env, DOCKER_CONFIG: t.env.DOCKER_CONFIG! } });
    expect(contexts.stdout).not.toContain('berth');
    const gone = await t.berth(['uninstall', '--delete-data']);
    expect(gone.stdout).toContain('berth-data deleted');
    // No distributions left: wsl.exe's quiet list then prints nothing and succeeds (ListDistributionsHelper).
    expect(await t.wsl(['-l', '-q'])).toMatchObject({ exitCode: 0, stdout: '' });
    expect((await t.wsl(['-l', '-v'])).exitCode).toBe(255);
  }, 60_000);
});

describe.runIf(run)('berth: what it refuses', () => {
  let t: TestBerth;
  beforeAll(() => {
    t = new TestBerth();
  });
  afterAll(async () => t?.cleanup());

  it('never touches a foreign distro that has its name', async () => {
    const foreign = await makeRootfsTarball(t.root, 'foreign', { files: { 'home/me/precious.txt': 'mine\n' } });
    await t.wsl(['--import', 'berth', join(t.root, 'distros/foreign'), foreign]);
    await buildImages(join(t.root, 'images'));
    const refused = await t.berth(['enable'], { BERTH_IMAGES: join(t.root, 'images') });
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain('a WSL distro named "berth" exists but was not made by Berth');
    expect((await t.wsl(['-d', 'berth', '--exec', 'cat', '/home/me/precious.txt'])).stdout).toBe('mine');
    expect((await t.status()).state).toBe('stopped');
  }, 180_000);

  it('reports an invalid settings file with the key and the reason beside the state, and leaves it as it is', async () => {
    const file = join(t.env.BERTH_HOME!, 'settings.json');
    try {
      writeFileSync(file, '{"wslEngine": "yes"}\n');
      const r = await t.berth(['status']);
      expect(r.exitCode).toBe(3); // stopped: the state is shown, with the problem beside it
      expect(r.stdout).toMatch(/^Berth: stopped\n {2}settings: settings .*"wslEngine": .*boolean/);
      expect(readFileSync(file, 'utf8')).toBe('{"wslEngine": "yes"}\n');
      expect((await t.berth(['start'])).stderr).toMatch(/"wslEngine": .*boolean/);
      // A key this Berth does not know is a warning only.
      writeFileSync(file, '{"colour": "blue"}\n');
      expect((await t.berth(['status'])).stdout).toContain('"colour" is not a setting of this Berth and is ignored');
      writeFileSync(file, '{not json');
      expect((await t.berth(['start'])).stderr).toContain('is not valid JSON');
      expect(readFileSync(file, 'utf8')).toBe('{not json');
    } finally {
      writeFileSync(file, '{}\n');
    }
  });

  it('integrates only WSL 2 user distros, and never its own', async () => {
    const tarball = await makeRootfsTarball(t.root, 'user');
    await t.wsl(['--import', 'Ubuntu', join(t.root, 'distros/Ubuntu'), tarball]);
    await t.wsl(['--import', 'Legacy', join(t.root, 'distros/Legacy'), tarball, '--version', '1']);
    expect((await t.berth(['integrate', 'Legacy'])).stderr).toContain('WSL 1');
    expect((await t.berth(['integrate', 'berth-data'])).exitCode).toBe(4);
    expect((await t.berth(['integrate', 'Nope'])).stderr).toContain('no WSL distro named Nope');
    expect((await t.berth(['integrate', 'Ubuntu'])).exitCode).toBe(0);
    expect((await t.status()).integrations).toEqual([{ distro: 'Ubuntu', state: 'stopped' }]);
    expect((await t.berth(['integrate', 'Ubuntu', '--off'])).exitCode).toBe(0);
    expect((await t.status()).integrations).toEqual([]);
  });
});
