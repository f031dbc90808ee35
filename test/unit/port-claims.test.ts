import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PortForwards } from '../../installer/ports.js';
import { DAEMON_SOCKET } from '../../installer/engine.js';
import { FakeWsl, type FakeProcess } from '../helpers/fake-wsl.js';

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
let helper: FakeProcess | undefined;
const commands: Array<{ op: string; key: string; port?: number; ip?: string }> = [];
let refusePort = 0;
let ports: PortForwards;
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
  // The port helper in the WSL namespace: answers each command; one port is "taken" there.
  wsl.onExec = (p) => {
    helper = p;
    p.stdin.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        const cmd = JSON.parse(line) as { id: number; op: string; key: string; port?: number; ip?: string };
        commands.push(cmd);
        const taken = cmd.op === 'open' && cmd.port === refusePort;
        p.stdout.write(`${JSON.stringify({ id: cmd.id, key: cmd.key, ok: !taken, ...(taken ? { error: 'EADDRINUSE' } : {}) })}\n`);
      }
    });
  };
  ports = new PortForwards(wsl, (l) => logs.push(l));
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
    await until(() => helper !== undefined, 'the helper started');
    const [free, taken] = [await freePort(), await freePort()];
    refusePort = taken;
    await expect(
      ports.claim([
        { host: '127.0.0.1', port: free, proto: 'tcp' },
        { host: '127.0.0.1', port: taken, proto: 'tcp' },
      ]),
    ).rejects.toThrow(`Berth: port ${taken} is already in use in WSL (127.0.0.1:${taken} in the distros' network); stop what uses it, or publish another host port (-p OTHER:…)`);
    expect(await canBind(free)).toBe(true); // the host side of the first port was let go
    expect(commands.filter((c) => c.op === 'close').map((c) => c.key)).toEqual([`127.0.0.1:${free}/tcp`]);
  });

  it('refuse a port taken on the host before asking WSL', async () => {
    await ports.start(undefined);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await expect(ports.claim([{ host: '127.0.0.1', port, proto: 'tcp' }])).rejects.toThrow(`Berth: port ${port} is already in use on the host (127.0.0.1:${port})`);
      expect(commands.filter((c) => c.op === 'open' && c.port === port)).toHaveLength(0);
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
    await until(() => commands.some((c) => c.op === 'open' && c.port === port), 'the port opened in WSL');
    expect(commands.find((c) => c.op === 'open' && c.port === port)).toMatchObject({ ip: '172.17.0.2' });
    expect(await accepts(port)).toBe(true);

    containers = [];
    await ports.reconcile();
    expect(await accepts(port)).toBe(false);
    expect(commands.at(-1)).toMatchObject({ op: 'close', key: `127.0.0.1:${port}/tcp` });

    daemon.close();
    daemon.closeAllConnections();
    await ports.reconcile();
    expect(ports.error).toMatch(/^cannot list the containers to publish their ports/);
  });
});
