import { readFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berthProcesses, commandLine, commandName } from '../helpers/processes.js';
import { makeRootfsTarball } from '../helpers/busybox-distro.js';
import { ENGINE_LINK } from '../../installer/network/addresses.js';
import { TestBerth, until } from '../helpers/berth-manager.js';
import { requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('fault drill');

const PORT = 18400;

function fetchHost(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * The fault drill: kill -9 each Berth process in turn, and dockerd, and shut WSL down
 * mid-run. After each, everything that ran comes back by itself (the backend only after
 * `berth start`, as a killed Docker Desktop needs restarting) and nothing is lost: images,
 * the volume and its data, the stopped container. Recovery times are printed at the end.
 */
/** SIGKILL, where a process already gone (one kill can take its siblings with it) counts as killed. */
function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

describe.runIf(run)('fault drill', () => {
  let t: TestBerth;
  /** A service on the host's loopback, which containers reach through the engine link. */
  let hostService: Server;
  let hostPort = 0;
  const recovery: Array<{ fault: string; seconds: number }> = [];

  const backendPid = async () => ((await t.status()) as unknown as { pid: number }).pid;
  /** Host pids of this Berth's processes (the backend's tree and the berth distro's). */
  const find = async (match: (cmd: string, comm: string) => boolean): Promise<number[]> => berthProcesses(await backendPid(), t.root).filter((p) => match(commandLine(p), commandName(p)));

  /** What healthy() last found missing, so a drill that fails says which part did not come back. */
  let missing = '';
  const lacking = (what: string) => {
    missing = what;
    return false;
  };
  /** Everything a user relies on answers: the manager, docker in the distro, the container's published port on the host and in WSL. */
  const healthy = async (): Promise<boolean> => {
    const s = await t.status().catch(() => undefined);
    if (s?.state !== 'running') return lacking(`berth status: ${s?.state ?? 'no answer'} ${s?.error ?? ''}`);
    if (s.integrations.find((i) => i.distro === 'Ubuntu')?.state !== 'running') return lacking(`Ubuntu's integration: ${JSON.stringify(s.integrations)}`);
    const ps = await t.sh('Ubuntu', "docker ps --format '{{.Names}}'");
    if (ps.exitCode !== 0 || !ps.stdout.split('\n').includes('keeper')) return lacking(`docker ps in Ubuntu: exit ${ps.exitCode}, ${ps.stdout} ${ps.stderr}`);
    if ((await fetchHost(PORT)) !== 'kept\n') return lacking(`port ${PORT} on the host`);
    if ((await t.sh('Ubuntu', `wget -qO- http://127.0.0.1:${PORT}/`)).stdout !== 'kept') return lacking(`port ${PORT} in Ubuntu`);
    // The way out: the link is up and a container reaches the host through it.
    const network = (s as unknown as { network?: { state: string } }).network;
    if (network?.state !== 'up') return lacking(`the engine link: ${JSON.stringify(network)}`);
    const out = await t.sh('Ubuntu', `docker exec keeper wget -qO- http://${ENGINE_LINK.gateway}:${hostPort}/`);
    return out.stdout === 'host' || lacking(`the host from a container: exit ${out.exitCode}, ${out.stderr}`);
  };
  /** On a failed wait: what was missing, and the end of the manager's log. */
  const diagnosis = () => {
    let log: string;
    try {
      // A retry loop's line, repeated every few seconds, would fill the excerpt: each text once.
      const lines = readFileSync(join(t.env.BERTH_HOME!, 'logs', 'berth.log'), 'utf8')
        .trimEnd()
        .split('\n');
      const text = (line: string) => line.slice(line.indexOf(','));
      const seen = new Set<string>();
      const kept = lines.reverse().filter((line) => !seen.has(text(line)) && seen.add(text(line)));
      log = kept.slice(0, 40).reverse().join('\n');
    } catch (e) {
      log = (e as Error).message;
    }
    return `missing: ${missing}\nberth.log, last lines:\n${log}`;
  };

  /** Nothing lost: images, the volume with its file, both containers. */
  const inventory = async () => {
    const images = (await t.sh('Ubuntu', "docker images --format '{{.Repository}}:{{.Tag}}'")).stdout.split('\n');
    const containers = (await t.sh('Ubuntu', "docker ps -a --format '{{.Names}}'")).stdout.split('\n').sort();
    const volume = (await t.sh('Ubuntu', 'docker run --rm -v drill-data:/data busybox cat /data/index.html')).stdout;
    return { images: images.filter((i) => i.startsWith('busybox') || i.startsWith('drill')).sort(), containers, volume };
  };
  let before: Awaited<ReturnType<typeof inventory>>;

  const keeperStartedAt = async () => (await t.sh('Ubuntu', "docker inspect -f '{{.State.StartedAt}}' keeper")).stdout;

  /**
   * Applies a fault, then times until healthy() holds again. Faults that leave the engine
   * up must also leave the running container alone (not restarted).
   */
  const drill = async (fault: string, act: () => Promise<void>, engineSurvives = false) => {
    // Waits rather than looks: a drill that failed must not fail the ones after it too.
    expect(await until(healthy, 90_000, 250), `healthy before: ${fault}\n${diagnosis()}`).toBe(true);
    const started = await keeperStartedAt();
    const t0 = Date.now();
    await act();
    await new Promise((r) => setTimeout(r, 300)); // let the fault land before looking
    expect(await until(healthy, 90_000, 250), `back after: ${fault}\n${diagnosis()}`).toBe(true);
    recovery.push({ fault, seconds: (Date.now() - t0) / 1000 });
    expect(await inventory(), `nothing lost after: ${fault}`).toEqual(before);
    if (engineSurvives) expect(await keeperStartedAt(), `container left running: ${fault}`).toBe(started);
  };
  const kill9 = async (what: string, match: (cmd: string, comm: string) => boolean) => {
    const pids = await find(match);
    expect(pids.length, `a process to kill: ${what}`).toBeGreaterThan(0);
    for (const pid of pids) killIfAlive(pid);
  };

  beforeAll(async () => {
    hostService = createServer((_req, res) => res.end('host'));
    await new Promise<void>((r) => hostService.listen(0, '127.0.0.1', r));
    hostPort = (hostService.address() as AddressInfo).port;
    t = new TestBerth();
    await t.enableWithImages();
    await t.wsl(['--import', 'Ubuntu', join(t.root, 'distros/Ubuntu'), await makeRootfsTarball(t.root, 'user')]);
    expect((await t.berth(['integrate', 'Ubuntu'])).exitCode).toBe(0);
    const setup = await t.sh(
      'Ubuntu',
      [
        'set -e',
        'docker volume create drill-data >/dev/null',
        'docker run --rm -v drill-data:/data busybox sh -c "echo kept > /data/index.html"',
        'mkdir -p ~/build && printf "FROM busybox\\nRUN echo built > /built\\n" > ~/build/Dockerfile && docker build -q -t drill:built ~/build >/dev/null',
        `docker run -d --name keeper --restart always -v drill-data:/www -p ${PORT}:80 drill:built httpd -f -p 80 -h /www >/dev/null`,
        'docker create --name parked busybox true >/dev/null',
      ].join('\n'),
    );
    expect(setup.exitCode, setup.stderr).toBe(0);
    expect(await until(healthy, 30_000, 250)).toBe(true);
    before = await inventory();
    expect(before.containers).toEqual(['keeper', 'parked']);
    expect(before.volume).toBe('kept');
  }, 300_000);

  afterAll(async () => {
    if (recovery.length) {
      console.log(`fault drill, recovery times:\n${recovery.map((r) => `  ${r.fault.padEnd(44)} ${r.seconds.toFixed(1)} s`).join('\n')}`);
    }
    await t?.cleanup();
    hostService?.close();
  });

  it('dockerd killed: the agent restarts it, the restart-always container and its port come back', async () => {
    await drill('kill -9 dockerd', () => kill9('dockerd', (_c, comm) => comm === 'dockerd'));
  }, 240_000);

  it('containerd killed', async () => {
    await drill('kill -9 containerd', () => kill9('containerd', (_c, comm) => comm === 'containerd'));
  }, 240_000);

  it('the agent supervisor killed (the whole engine namespace goes with it)', async () => {
    await drill('kill -9 berth-agent supervise', () => kill9('supervisor', (c) => c.includes('berth-agent.mjs supervise')));
  }, 240_000);

  it("the manager's attached process in berth killed: the engine is attached to again, not restarted", async () => {
    await drill('kill -9 the attached process in berth', () => kill9('attached shell', (c) => c.startsWith('sh -c trap')), true);
  }, 240_000);

  it("the ports' relay in WSL killed: the backend starts it again and binds every port again", async () => {
    await drill('kill -9 berth-relay listen (WSL side)', () => kill9('port relay in WSL', (c) => c.includes('berth-relay listen --pass-to /mnt/wsl/')), true);
  }, 240_000);

  it("the user distro's proxy killed", async () => {
    await drill('kill -9 berth-proxy (Ubuntu)', () => kill9('proxy', (c) => c.includes('berth-proxy.mjs serve')), true);
  }, 240_000);

  it('the berth-wsl client of the attached process killed (wsl.exe dying)', async () => {
    const client = (c: string) => c.includes('bin/berth-wsl') && c.includes('berth-engine-init wait');
    const before = await find(client);
    await drill('kill -9 its berth-wsl client', () => kill9('berth-wsl client', client), true);
    // The backend noticed and attached again (its old command may linger; the client is new).
    expect(await until(async () => (await find(client)).some((p) => !before.includes(p)), 10_000)).toBe(true);
  }, 240_000);

  it("the engine link's slirp4netns killed: the backend starts it again", async () => {
    await drill('kill -9 the engine link (slirp4netns)', () => kill9('engine link', (c) => c.includes('slirp4netns') && c.includes('engine.netns')), true);
  }, 240_000);

  it("the engine link's outbound relay killed: the backend starts the link again", async () => {
    await drill('kill -9 the outbound relay (berth-relay)', () => kill9('outbound relay', (c) => c.includes('berth-relay outbound')), true);
  }, 240_000);

  it('the backend killed, then `berth start`: the new backend attaches to the running engine', async () => {
    await drill(
      'kill -9 backend, then berth start',
      async () => {
        process.kill(await backendPid(), 'SIGKILL');
        const r = await t.berth(['start']);
        expect(r.exitCode, r.stderr).toBe(0);
      },
      true,
    );
  }, 240_000);

  it('WSL shut down mid-run (berth-wsl --shutdown)', async () => {
    await drill('berth-wsl --shutdown', async () => {
      expect((await t.wsl(['--shutdown'])).exitCode).toBe(0);
    });
  }, 240_000);
});
