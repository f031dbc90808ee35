import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRootfsTarball } from '../helpers/busybox-distro.js';
import { TestBerth } from '../helpers/berth-manager.js';
import { CommandWslHost } from '../../wsl-host/command-host.js';
import { httpRequest } from '../../common/http-client.js';
import { BERTH_WSL, requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('security: socket and store modes, other distros');

/** mode bits and owner of a path as `0600 0:0`. */
const modeOf = (path: string) => {
  const s = statSync(path);
  return `${(s.mode & 0o7777).toString(8).padStart(4, '0')} ${s.uid}:${s.gid}`;
};

/**
 * Who can reach what, with Berth started under umask 000 (the modes must be what Berth
 * sets, never what the umask leaves): every control socket root only; the logs and the
 * store closed to non-root users of every distro; one distro's bind-mount area closed to
 * another's users; the daemon's own socket closed to everyone but root, whatever gids a
 * user distro gives out.
 */
describe.runIf(run)('security: who reaches what', () => {
  let t: TestBerth;
  const shared = () => join(t.root, 'run/wsl/berth');

  beforeAll(async () => {
    t = new TestBerth();
    t.prefix = ['sh', '-c', 'umask 000; exec "$@"', 'sh'];
    await t.enableWithImages();
    for (const name of ['Ubuntu', 'Other']) {
      expect((await t.wsl(['--import', name, join(t.root, `distros/${name}`), await makeRootfsTarball(t.root, name.toLowerCase())])).exitCode).toBe(0);
    }
    // In the other distro, `me` is in a group with gid 2375 (the daemon socket's group before).
    expect((await t.sh('Other', 'echo "dockerish:x:2375:me" >> /etc/group', 'root')).exitCode).toBe(0);
    const integrated = await t.berth(['integrate', 'Ubuntu']);
    expect(integrated.exitCode, integrated.stderr).toBe(0);
    t.prefix = [];
    // A bind mount from Ubuntu, so its area under /mnt/wsl/berth/bind-mounts has something in it.
    const r = await t.sh('Ubuntu', 'mkdir -p ~/secret && echo s3cret > ~/secret/f && docker run --rm -v ~/secret:/s busybox cat /s/f');
    expect(r.stdout, r.stderr).toBe('s3cret');
  }, 300_000);
  afterAll(async () => t?.cleanup());

  it('sets every socket mode explicitly: the same under umask 000 as under 022', () => {
    const root = '0600 0:0';
    expect(modeOf(join(t.env.BERTH_HOME!, 'run/backend.sock'))).toBe(root);
    expect(modeOf(join(shared(), 'agent.sock'))).toBe(root);
    expect(modeOf(join(shared(), 'log.sock'))).toBe(root);
    expect(modeOf(join(shared(), 'forward.sock'))).toBe(root);
    expect(modeOf(join(shared(), 'ports.sock'))).toBe(root);
    // The daemon's socket: root's group only, never a group a user distro hands out.
    expect(modeOf(join(shared(), 'docker.sock'))).toBe('0660 0:0');
    expect(modeOf(join(t.env.BERTH_HOME!, 'run/docker.sock'))).toMatch(/^(0660 0:\d+|0600 0:0)$/);
  });

  it("gives the distro's docker socket to root and its docker group only", async () => {
    expect((await t.sh('Ubuntu', 'stat -c "%a %U %G" /var/run/docker.sock')).stdout).toBe('660 root docker');
  });

  it("closes the store, its logs and one distro's bind mounts to another distro's users", async () => {
    expect(modeOf(join(shared(), 'data'))).toBe('0700 0:0');
    expect(modeOf(join(shared(), 'data/log'))).toBe('0700 0:0');
    expect(modeOf(join(shared(), 'bind-mounts'))).toBe('0700 0:0');
    expect(modeOf(join(shared(), 'bind-mounts/Ubuntu'))).toBe('0700 0:0');
    const logs = await t.sh('Other', 'cat /mnt/wsl/berth/data/log/dockerd.log');
    expect(logs.exitCode).not.toBe(0);
    expect(logs.stderr).toMatch(/Permission denied/);
    const binds = await t.sh('Other', 'ls /mnt/wsl/berth/bind-mounts/Ubuntu');
    expect(binds.exitCode).not.toBe(0);
    expect(binds.stderr).toMatch(/Permission denied/);
    // Root there may (it is root of the same VM, as on WSL).
    expect((await t.sh('Other', 'ls /mnt/wsl/berth/data/log', 'root')).stdout).toContain('dockerd.log');
  });

  it('integrates a distro whose automount root holds spaces, quotes and $(…) without running any of it', async () => {
    const odd = '/mnt/we ird\'$(touch /tmp/pwned)"x/';
    expect((await t.wsl(['--import', 'Odd', join(t.root, 'distros/Odd'), await makeRootfsTarball(t.root, 'odd')])).exitCode).toBe(0);
    const conf = await t.wsl(['-d', 'Odd', '-u', 'root', '--exec', 'sh', '-c', 'printf "[automount]\\nroot = %s\\n" "$1" > /etc/wsl.conf', 'sh', odd]);
    expect(conf.exitCode, conf.stderr).toBe(0);
    expect((await t.wsl(['--terminate', 'Odd'])).exitCode).toBe(0);
    const integrated = await t.berth(['integrate', 'Odd']);
    expect(integrated.exitCode, integrated.stderr).toBe(0);
    expect((await t.sh('Odd', 'docker run --rm busybox echo through-the-proxy')).stdout).toBe('through-the-proxy');
    expect((await t.sh('Odd', 'ls /tmp/pwned', 'root')).exitCode).not.toBe(0);
    expect((await t.berth(['integrate', 'Odd', '--off'])).exitCode).toBe(0);
    expect((await t.sh('Odd', 'ls /tmp/pwned', 'root')).exitCode).not.toBe(0);
  }, 120_000);

  it('reaches the engine through the relay (`wsl --exec berth-agent relay`), as the Windows side must, not through the shared area', async () => {
    const host = new CommandWslHost({ command: BERTH_WSL, env: t.env, relayCommand: ['/opt/berth/bin/berth-agent', 'relay'] });
    expect((await httpRequest(() => host.connect('berth', '/mnt/wsl/berth/docker.sock'), { path: '/_ping' })).body).toBe('OK');
    const status = await httpRequest(() => host.connect('berth', '/mnt/wsl/berth/agent.sock'), { path: '/status' });
    expect(JSON.parse(status.body).engine).toBe('ready');
    await expect(httpRequest(() => host.connect('berth', '/mnt/wsl/berth/none.sock'), { path: '/_ping' })).rejects.toThrow(/socket relay failed.*cannot reach \/mnt\/wsl\/berth\/none\.sock/);
  });

  it("keeps serving after garbage at the backend's control socket, the host endpoint and the agent's socket", async () => {
    const sockets = [join(t.env.BERTH_HOME!, 'run/backend.sock'), join(t.env.BERTH_HOME!, 'run/docker.sock'), join(shared(), 'agent.sock'), join(shared(), 'ports.sock')];
    for (const path of sockets) {
      for (const junk of [Buffer.from('GET /status HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{'), Buffer.alloc(70_000, 0xff), Buffer.from('\0\r\n\r\n'), Buffer.from('POST /stop')]) {
        await new Promise<void>((resolve) => {
          const s = connect(path);
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.on('data', () => {});
          s.on('connect', () => s.end(junk));
          setTimeout(() => s.destroy(), 500);
        });
      }
    }
    const s = await t.status();
    expect(s.state).toBe('running');
    expect(s.services.find((x) => x.name === 'dockerd')?.state).toBe('running');
    expect((await t.docker(['version', '--format', '{{.Server.Version}}'])).exitCode).toBe(0);
  });

  it('keeps the persisted log files root only', async () => {
    const files = (await t.sh('Other', 'stat -c "%a %U %n" /mnt/wsl/berth/data/log/*.log', 'root')).stdout.split('\n');
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f).toMatch(/^600 root /);
  });
});
