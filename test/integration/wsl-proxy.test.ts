import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRootfsTarball } from '../helpers/busybox-distro.js';
import { killWorld, worldProcesses } from '../helpers/world.js';
import { TestBerth, until } from '../helpers/berth-manager.js';
import { BERTH_WSL, requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('wsl-proxy and integration');

describe.runIf(run)('docker from inside an integrated user distro', () => {
  let t: TestBerth;
  const sh = (distro: string, script: string, user = 'me') => t.sh(distro, script, user);

  beforeAll(async () => {
    t = new TestBerth();
    await t.enableWithImages();
    const plain = await makeRootfsTarball(t.root, 'ubuntu');
    const slash = await makeRootfsTarball(t.root, 'slash', { wslConf: '[automount]\nroot = /\n' });
    await t.wsl(['--import', 'Ubuntu', join(t.root, 'distros/Ubuntu'), plain]);
    await t.wsl(['--import', 'Slash', join(t.root, 'distros/Slash'), slash]);
    await t.wsl(['--import', 'Legacy', join(t.root, 'distros/Legacy'), plain, '--version', '1']);
    const on = await t.berth(['integrate', 'Ubuntu']);
    expect(on.stdout).toContain('Ubuntu: integration on: docker and /var/run/docker.sock work there.');
    mkdirSync(join(t.root, 'drives/c/Users/me/proj'), { recursive: true });
    writeFileSync(join(t.root, 'drives/c/Users/me/proj/f'), 'on drive c\n');
  }, 240_000);
  afterAll(async () => t?.cleanup());

  it('gives a fresh distro docker and /var/run/docker.sock (root:docker 0660) with nothing installed', async () => {
    const r = await sh('Ubuntu', 'stat -c "%a %U %G" /var/run/docker.sock; readlink /usr/local/bin/docker; docker version --format "{{.Server.Version}}"');
    expect(r.stdout.split('\n')).toEqual(['660 root docker', '/mnt/wsl/berth/tools/bin/docker', expect.stringMatching(/^\d+\.\d+/)]);
    expect((await t.status()).integrations).toEqual([{ distro: 'Ubuntu', state: 'running' }]);
  });

  it('bind-mounts folders and files of the distro, with spaces, non-ASCII names and symlinks', async () => {
    const r = await sh(
      'Ubuntu',
      [
        'mkdir -p ~/app "$HOME/my dir/ünï" && echo app > ~/app/f && echo spaced > "$HOME/my dir/ünï/g" && echo single > ~/one.txt',
        'ln -sfn ~/app ~/link',
        'docker run --rm -v ~/app:/src:ro busybox cat /src/f',
        'docker run --rm -v "$HOME/my dir/ünï:/x" busybox cat /x/g',
        'docker run --rm -v ~/one.txt:/one.txt busybox cat /one.txt',
        'docker run --rm -v ~/link:/l busybox cat /l/f',
      ].join(' && '),
    );
    expect(r.stdout.split('\n')).toEqual(['app', 'spaced', 'single', 'app']);
  });

  it("creates a missing -v source as Docker does, and refuses a missing --mount source with Docker's error", async () => {
    const created = await sh('Ubuntu', 'docker run --rm -v ~/new-dir:/n busybox true && test -d ~/new-dir && echo made');
    expect(created.stdout).toBe('made');
    const refused = await sh('Ubuntu', 'docker run --rm --mount type=bind,source=/home/me/nope,target=/n busybox true');
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('invalid mount config for type "bind": bind source path does not exist: /home/me/nope');
  });

  it("maps /mnt/<letter> and C:\\ paths to the daemon's drives, without a bind mount", async () => {
    expect((await sh('Ubuntu', 'docker run --rm -v /mnt/c/Users/me/proj:/p busybox cat /p/f')).stdout).toBe('on drive c');
    expect((await sh('Ubuntu', 'docker run --rm -v "C:\\\\Users\\\\me\\\\proj:/p" busybox cat /p/f')).stdout).toBe('on drive c');
  });

  it("shows the user's own path in docker inspect, and releases the bind mount with the container", async () => {
    const r = await sh(
      'Ubuntu',
      'docker create --name insp -v ~/app:/src busybox true >/dev/null && docker inspect -f "{{json .HostConfig.Binds}}|{{range .Mounts}}{{.Source}}{{end}}" insp && grep -c " /mnt/wsl/berth/bind-mounts/Ubuntu/" /proc/mounts',
    );
    expect(r.stdout.split('\n')).toEqual(['["/home/me/app:/src"]|/home/me/app', '1']);
    await sh('Ubuntu', 'docker rm insp >/dev/null');
    expect(await until(async () => (await sh('Ubuntu', 'grep -c " /mnt/wsl/berth/bind-mounts/Ubuntu/" /proc/mounts')).stdout === '0', 5000)).toBe(true);
  });

  it('leaks no bind mount when the daemon refuses the container', async () => {
    const r = await sh('Ubuntu', 'mkdir -p ~/leak && docker create -v ~/leak:/l no-such-image:1 true; grep -c " /mnt/wsl/berth/bind-mounts/Ubuntu/" /proc/mounts');
    expect(r.stderr).toMatch(/No such image|not found|pull access denied|Unable to find image/i);
    expect(await until(async () => (await sh('Ubuntu', 'grep -c " /mnt/wsl/berth/bind-mounts/Ubuntu/" /proc/mounts')).stdout === '0', 5000)).toBe(true);
  });

  it('restarts a proxy that dies', async () => {
    expect(killWorld(t.root, (c) => c.includes('berth-proxy.mjs serve --distro Ubuntu'))).toBeGreaterThan(0);
    expect(await until(async () => (await sh('Ubuntu', 'docker version --format "{{.Server.Version}}"')).exitCode === 0, 20_000)).toBe(true);
    expect((await t.status()).integrations).toEqual([{ distro: 'Ubuntu', state: 'running' }]);
  });

  it("serves the distro's socket with the native front (berth-relay api), and restarts the proxy when its front dies", async () => {
    const fronts = () => worldProcesses(t.root, (c) => c.includes('berth-relay api --listen /var/run/docker.sock'));
    expect(fronts()).toHaveLength(1);
    const [first] = fronts();
    expect(killWorld(t.root, (c) => c.includes('berth-relay api --listen /var/run/docker.sock'))).toBe(1);
    // Without its front the proxy ends; the manager starts it again, with a new front.
    expect(await until(async () => fronts().length === 1 && fronts()[0] !== first && (await sh('Ubuntu', 'docker version --format "{{.Server.Version}}"')).exitCode === 0, 20_000)).toBe(true);
    expect((await t.status()).integrations).toEqual([{ distro: 'Ubuntu', state: 'running' }]);
  });

  it('keeps a corrupt bind-mount table aside and rebuilds it from what is mounted, orphaning nothing', async () => {
    const id = (await sh('Ubuntu', 'mkdir -p ~/kept && echo mine > ~/kept/f && docker create --name keeper -v ~/kept:/k busybox true')).stdout.trim();
    // The proxy records the container after the create's answer: corrupt the table once it has.
    expect(await until(async () => (await sh('Ubuntu', 'cat /var/lib/berth-proxy/bind-mounts.json', 'root')).stdout.includes(id), 5000)).toBe(true);
    await sh('Ubuntu', 'echo "{not json" > /var/lib/berth-proxy/bind-mounts.json', 'root');
    // The proxy reads its table when it starts: the manager restarts a proxy that dies.
    expect(killWorld(t.root, (c) => c.includes('berth-proxy.mjs serve --distro Ubuntu'))).toBeGreaterThan(0);
    expect(await until(async () => (await sh('Ubuntu', 'docker version --format "{{.Server.Version}}"')).exitCode === 0, 20_000)).toBe(true);
    const r = await sh('Ubuntu', 'ls /var/lib/berth-proxy; docker inspect -f "{{range .Mounts}}{{.Source}}{{end}}" keeper; grep -c " /mnt/wsl/berth/bind-mounts/Ubuntu/" /proc/mounts', 'root');
    const [files, source, mounts] = [r.stdout.split('\n').filter((l) => l.startsWith('bind-mounts.json')), ...r.stdout.split('\n').slice(-2)];
    expect(files).toEqual(['bind-mounts.json', expect.stringMatching(/^bind-mounts\.json\.corrupt-\d{4}-/)]);
    expect(source).toBe('/home/me/kept'); // the rebuilt table maps the daemon's path back to the user's
    // Every bind mount of this distro is in the rebuilt table: none is orphaned.
    const table = JSON.parse((await sh('Ubuntu', 'cat /var/lib/berth-proxy/bind-mounts.json', 'root')).stdout) as Array<{ source: string; target: string; containers: string[] }>;
    const mounted = (await sh('Ubuntu', 'grep " /mnt/wsl/berth/bind-mounts/Ubuntu/" /proc/mounts | cut -d" " -f2', 'root')).stdout.split('\n').filter(Boolean).sort();
    expect(table.map((r) => r.target).sort(), JSON.stringify({ table, mounted })).toEqual(mounted);
    expect(table).toContainEqual({ source: '/home/me/kept', target: expect.stringMatching(/^\/mnt\/wsl\/berth\/bind-mounts\/Ubuntu\/[0-9a-f]{64}$/), containers: [] });
    expect(Number(mounts)).toBe(table.length);
    await sh('Ubuntu', 'docker rm keeper >/dev/null; rm -f /var/lib/berth-proxy/bind-mounts.json.corrupt-*', 'root');
  });

  it('never overwrites a docker CLI the distro already has', async () => {
    const own = await makeRootfsTarball(t.root, 'own', { files: { 'usr/bin/docker': '#!/bin/sh\necho my own docker\n' } });
    await t.wsl(['--import', 'Own', join(t.root, 'distros/Own'), own]);
    await t.wsl(['-d', 'Own', '--exec', 'chmod', '+x', '/usr/bin/docker']);
    const r = await t.berth(['integrate', 'Own']);
    expect(r.stdout).toContain('Own: integration on: docker and /var/run/docker.sock work there (own docker CLI kept).');
    // Berth's credential helper is linked (the distro's own CLI can use it too); its docker CLI is not.
    expect((await sh('Own', 'docker; ls /usr/local/bin 2>/dev/null | grep -cx docker; ls /usr/local/bin')).stdout).toBe('my own docker\n0\ndocker-credential-berth');
    expect((await t.berth(['integrate', 'Own', '--off'])).exitCode).toBe(0);
    expect((await sh('Own', 'cat /usr/bin/docker')).stdout).toContain('echo my own docker');
  });

  it("serves the daemon's own socket for -v /var/run/docker.sock", async () => {
    const r = await sh(
      'Ubuntu',
      'docker run --rm -v /var/run/docker.sock:/s -v /mnt/wsl/berth/version-pack:/vp busybox /vp/lib64/ld-linux-x86-64.so.2 --library-path /vp/lib/x86_64-linux-gnu /vp/usr/bin/docker -H unix:///s version --format "{{.Server.Version}}"',
    );
    expect(r.stdout).toMatch(/^\d+\.\d+/);
  });

  it('streams logs -f, copies both ways, and binds a local volume', async () => {
    const logs = await sh('Ubuntu', 'docker run -d --name talker busybox sh -c "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.2; done" >/dev/null; timeout 2 docker logs -f talker; docker rm -f talker >/dev/null');
    expect(logs.stdout.split('\n').length).toBeGreaterThanOrEqual(5);
    const cp = await sh(
      'Ubuntu',
      'echo to-container > ~/cp-in && docker create --name cpt busybox true >/dev/null && docker cp ~/cp-in cpt:/cp-in && docker cp cpt:/cp-in ~/cp-out && cat ~/cp-out; docker rm cpt >/dev/null',
    );
    expect(cp.stdout).toBe('to-container');
    const vol = await sh(
      'Ubuntu',
      'mkdir -p ~/vol && echo in-volume > ~/vol/v && docker volume create --driver local -o type=none -o o=bind -o device=/home/me/vol bound >/dev/null && docker run --rm -v bound:/v busybox cat /v/v',
    );
    expect(vol.stdout).toBe('in-volume');
  });

  it("docker exec runs in the container: its files and its bind mounts, not the engine's", async () => {
    const r = await sh(
      'Ubuntu',
      'mkdir -p ~/ex && echo exec-sees-it > ~/ex/f && docker run -d --name exer -v ~/ex:/ex busybox sh -c "echo mine > /only-here; sleep 600" >/dev/null && sleep 0.5 && docker exec exer cat /ex/f /only-here; docker rm -f exer >/dev/null',
    );
    expect(r.stdout, r.stderr).toBe('exec-sees-it\nmine');
  });

  it('runs docker run -it through a terminal', async () => {
    const session = `berth-proxy-${process.pid}`;
    const line = `env ${Object.entries(t.env)
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ')} ${BERTH_WSL} -d Ubuntu -u me --exec docker run -it --rm busybox sh`;
    await execa('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', line]);
    try {
      await until(async () => (await execa('tmux', ['capture-pane', '-p', '-t', session])).stdout.includes('#'), 20_000);
      await execa('tmux', ['send-keys', '-t', session, 'echo tty-$((6*7)); tty', 'Enter']);
      expect(await until(async () => (await execa('tmux', ['capture-pane', '-p', '-t', session])).stdout.includes('tty-42'), 10_000)).toBe(true);
      expect((await execa('tmux', ['capture-pane', '-p', '-t', session])).stdout).toMatch(/\/dev\/pts\/\d+/);
      await execa('tmux', ['send-keys', '-t', session, 'exit', 'Enter']);
    } finally {
      await execa('tmux', ['kill-session', '-t', session], { reject: false });
    }
  });

  it("keeps a restart-always container's bind mount across a backend restart", async () => {
    await sh('Ubuntu', 'echo persisted > ~/app/p && docker run -d --name always --restart always -v ~/app:/src busybox sh -c "cat /src/p; sleep 1; exit 1" >/dev/null');
    expect((await t.berth(['restart'])).exitCode).toBe(0);
    expect(await until(async () => (await sh('Ubuntu', 'docker logs always 2>&1 | tail -1')).stdout === 'persisted' && (await sh('Ubuntu', 'docker inspect -f "{{.RestartCount}}" always')).stdout !== '0', 30_000)).toBe(
      true,
    );
    const logs = (await sh('Ubuntu', 'docker logs always 2>&1')).stdout.split('\n');
    expect(logs.every((l) => l === 'persisted')).toBe(true);
    await sh('Ubuntu', 'docker rm -f always >/dev/null');
  }, 90_000);

  it('refuses WSL 1 distros, and works where wsl.conf sets root=/', async () => {
    const legacy = await t.berth(['integrate', 'Legacy']);
    expect(legacy.exitCode).toBe(4);
    expect(legacy.stderr).toContain('Legacy is a WSL 1 distro');
    expect((await t.berth(['integrate', 'Slash'])).exitCode).toBe(0);
    const r = await sh('Slash', 'mkdir -p ~/w && echo slash > ~/w/f && docker run --rm -v ~/w:/w busybox cat /w/f && docker run --rm -v /c/Users/me/proj:/p busybox cat /p/f');
    expect(r.stdout.split('\n')).toEqual(['slash', 'on drive c']);
  });

  it('leaves nothing of Berth in the distro after --off', async () => {
    await sh('Slash', 'docker create --name leftover -v ~/w:/w busybox true >/dev/null');
    expect((await t.berth(['integrate', 'Slash', '--off'])).exitCode).toBe(0);
    const r = await sh('Slash', 'ls /usr/local/bin; ls /var/run/docker.sock 2>&1; grep -c " /mnt/wsl/berth/bind-mounts/Slash/" /proc/mounts', 'root');
    expect(r.stdout).toBe('ls: /var/run/docker.sock: No such file or directory\n0');
    expect((await t.status()).integrations).toEqual([{ distro: 'Ubuntu', state: 'running' }]);
  });
});
