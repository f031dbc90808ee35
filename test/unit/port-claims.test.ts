import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PortForwards } from '../../installer/ports.js';
import { DAEMON_SOCKET } from '../../installer/engine.js';
import { FakeWsl, type FakeProcess } from '../helpers/fake-wsl.js';
import { REPO } from '../helpers/wsl-root.js';
import { sharedPath } from '../../common/shared-area.js';
import { execa } from 'execa';
import { ManualClock } from '../helpers/manual-clock.js';

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`never happened: ${what}`);
};

/** A loopback port nothing listens on right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}
const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });

let dir: string;
let daemon: HttpServer;
let containers: unknown[] = [];
/** The WSL side's processes as the manager started them: berth-relay listen, and the UDP helper. */
let relays: FakeProcess[] = [];
let helpers: FakeProcess[] = [];
const commands: Array<{ op: string; key: string; port?: number; ip?: string }> = [];
let refusePort = 0;
let ports: PortForwards;
let clock: ManualClock;
const logs: string[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-ports-'));
  const sock = join(dir, 'docker.sock');
  daemon = createHttpServer((req, res) => {
    if (req.url === '/containers/json') return res.writeHead(200).end(JSON.stringify(containers));
    if (req.url?.startsWith('/events')) return void res.writeHead(200).flushHeaders();
    res.writeHead(404).end('{}');
  });
  await new Promise<void>((r) => daemon.listen(sock, r));
  const wsl = new FakeWsl();
  wsl.sockets.set(DAEMON_SOCKET, sock);
  // The WSL namespace's side: berth-relay's line protocol (TCP) and the helper's JSON lines
  // (UDP), each answering every command; one port is "taken" there. Both end with their stdin.
  wsl.onExec = (p) => {
    const isRelay = p.argv.includes('listen');
    (isRelay ? relays : helpers).push(p);
    p.stdin.on('end', () => p.end(0));
    p.stdin.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        if (isRelay) {
          const [op, key, ip, port] = line.split(' ') as [string, string, string?, string?];
          commands.push({ op, key, ...(ip ? { ip } : {}), ...(port ? { port: Number(port) } : {}) });
          const taken = op === 'listen' && Number(port) === refusePort;
          p.stdout.write(taken ? `error ${key} EADDRINUSE\n` : `ok ${key}\n`);
          continue;
        }
        const cmd = JSON.parse(line) as { id: number; op: string; key: string; port?: number; ip?: string };
        commands.push(cmd);
        const taken = cmd.op === 'open' && cmd.port === refusePort;
        p.stdout.write(`${JSON.stringify({ id: cmd.id, key: cmd.key, ok: !taken, ...(taken ? { error: 'EADDRINUSE' } : {}) })}\n`);
      }
    });
  };
  relays = [];
  helpers = [];
  // Restarts and second looks wait on this clock, moved by hand: no test waits out a delay.
  clock = new ManualClock();
  ports = new PortForwards(wsl, (l) => logs.push(l), undefined, clock);
  commands.length = 0;
  containers = [];
});

afterEach(async () => {
  await ports.stop();
  daemon.closeAllConnections();
  daemon.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('port claims', () => {
  it('bind every port or none: a port taken in WSL rolls back the ones already bound, and names the port', async () => {
    await ports.start(undefined);
    await until(() => relays.length === 1, 'the relay in WSL started');
    const [free, taken] = [await freePort(), await freePort()];
    refusePort = taken;
    await expect(
      ports.claim([
        { host: '127.0.0.1', port: free, proto: 'tcp' },
        { host: '127.0.0.1', port: taken, proto: 'tcp' },
      ]),
    ).rejects.toThrow(`Berth: port ${taken} is already in use in WSL (127.0.0.1:${taken} in the distros' network); stop what uses it, or publish another host port (-p OTHER:…)`);
    expect(await canBind(free)).toBe(true); // the host side of the first port was let go
    expect(commands.filter((c) => c.op === 'close').map((c) => c.key)).toEqual([`127.0.0.1:${free}`]);
    expect(helpers, 'no Node helper for TCP ports').toHaveLength(0);
  });

  it('refuse a port taken on the host before asking WSL', async () => {
    await ports.start(undefined);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await expect(ports.claim([{ host: '127.0.0.1', port, proto: 'tcp' }])).rejects.toThrow(`Berth: port ${port} is already in use on the host (127.0.0.1:${port})`);
      expect(commands.filter((c) => c.op === 'listen' && c.port === port)).toHaveLength(0);
    } finally {
      blocker.close();
    }
  });
});

describe('port reconcile', () => {
  it('publishes the ports of running containers, drops those of stopped ones, and reports a daemon it cannot read', async () => {
    const port = await freePort();
    containers = [{ Id: 'c1', Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: port, Type: 'tcp' }], NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } } }];
    await ports.start(undefined);
    await until(() => commands.some((c) => c.op === 'listen' && c.port === port), 'the port opened in WSL');
    await until(() => commands.some((c) => c.op === 'target' && c.key === `127.0.0.1:${port}`), 'the port pointed at its container in WSL');
    expect(commands.find((c) => c.op === 'target' && c.key === `127.0.0.1:${port}`)).toMatchObject({ ip: '172.17.0.2', port: 80 });
    expect(await accepts(port)).toBe(true);

    containers = [];
    await ports.reconcile();
    expect(await accepts(port)).toBe(false);
    expect(commands.at(-1)).toMatchObject({ op: 'close', key: `127.0.0.1:${port}` });

    daemon.close();
    daemon.closeAllConnections();
    await ports.reconcile();
    expect(ports.error).toMatch(/^cannot list the containers to publish their ports/);
  });
});

describe("the WSL namespace's side", () => {
  it('starts the Node port helper with the first UDP port and ends it with the last; TCP needs none', async () => {
    await ports.start(undefined);
    const [tcp, udp] = [await freePort(), await freePort()];
    await ports.claim([{ host: '127.0.0.1', port: tcp, proto: 'tcp' }]);
    expect(helpers).toHaveLength(0);
    containers = [{ Id: 'c1', Ports: [{ IP: '127.0.0.1', PrivatePort: 53, PublicPort: udp, Type: 'udp' }], NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.3' } } } }];
    await ports.reconcile();
    expect(helpers).toHaveLength(1);
    expect(commands.find((c) => c.op === 'open')).toMatchObject({ key: `127.0.0.1:${udp}/udp`, port: udp, ip: '172.17.0.3' });
    containers = [];
    await ports.reconcile(); // its container stopped: the last UDP port goes, and the helper with it
    await until(() => helpers[0]!.stdin.writableEnded, 'the helper was told to end');
    expect(commands.at(-1)).toMatchObject({ op: 'close', key: `127.0.0.1:${udp}/udp` });
    expect(relays).toHaveLength(1);
  });

  it('starts a relay that died again and binds every TCP port again, to its target', async () => {
    const port = await freePort();
    containers = [{ Id: 'c1', Ports: [{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: port, Type: 'tcp' }], NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.9' } } } }];
    await ports.start(undefined);
    await until(() => commands.some((c) => c.op === 'target' && c.port === 80), 'the port pointed at its container');
    commands.length = 0;
    relays[0]!.end(1);
    await until(() => clock.pending().includes(100), 'the restart scheduled');
    expect(relays).toHaveLength(1);
    clock.advance(100);
    await until(() => relays.length === 2, 'a second relay started');
    await until(() => commands.some((c) => c.op === 'target'), 'the port bound again');
    expect(commands).toEqual([
      { op: 'listen', key: `127.0.0.1:${port}`, ip: '127.0.0.1', port },
      { op: 'target', key: `127.0.0.1:${port}`, ip: '172.17.0.9', port: 80 },
    ]);
    expect(logs.join('\n')).toMatch(/the port relay in the berth distro exited; starting it again in 100 ms/);
  });
});

describe("the host's relay", () => {
  it('dies: only the host side is bound again, and the WSL side is left alone', async () => {
    const binary = join(REPO, 'dist/native/berth-relay');
    const wsl = new FakeWsl();
    wsl.sockets.set(DAEMON_SOCKET, join(dir, 'docker.sock'));
    wsl.sockets.set(sharedPath('forwardSocket'), join(dir, 'forward.sock')); // nothing answers there: accepting is enough
    wsl.onExec = (p) => {
      relays.push(p);
      p.stdin.on('end', () => p.end(0));
      p.stdin.on('data', (d: Buffer) => {
        for (const line of d.toString().split('\n').filter(Boolean)) {
          commands.push({ op: line.split(' ')[0]!, key: line.split(' ')[1]! });
          p.stdout.write(`ok ${line.split(' ')[1]}\n`);
        }
      });
    };
    const withRelay = new PortForwards(wsl, (l) => logs.push(l), binary);
    try {
      await withRelay.start(undefined);
      const port = await freePort();
      await withRelay.claim([{ host: '127.0.0.1', port, proto: 'tcp' }]);
      expect(await accepts(port)).toBe(true);
      const hostRelay = (await execa('pgrep', ['-P', String(process.pid), '-f', `${binary} listen`], { reject: false })).stdout.trim();
      expect(hostRelay).toMatch(/^\d+$/);
      const wslCommands = commands.length;
      process.kill(Number(hostRelay), 'SIGKILL');
      await until(() => logs.some((l) => l.includes('the host port relay exited')), 'the backend saw it go');
      for (let i = 0; i < 100 && !(await accepts(port)); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await accepts(port)).toBe(true);
      expect(commands.length, 'no command to the WSL side').toBe(wslCommands);
    } finally {
      await withRelay.stop();
    }
  });
});
