import { createServer, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProxy } from '../../wsl-proxy/docker-proxy.js';
import type { PathTranslator } from '../../wsl-proxy/translate.js';

// A stand-in daemon on a Unix socket: the proxy's behaviour at the HTTP level is what is
// tested here; the integration tests run the same proxy against a real dockerd.
const dir = mkdtempSync(join(tmpdir(), 'berth-proxy-'));
const daemonPath = join(dir, 'daemon.sock');
const proxyPath = join(dir, 'proxy.sock');
let daemon: Server;
let proxy: Server;
const seen: Array<{ method?: string; url?: string; body: string }> = [];
let upgrades = 0;

let seeFirstEvent: () => void = () => {};
const firstEventSeen = new Promise<void>((r) => (seeFirstEvent = r));
const translator: PathTranslator = { toDaemon: async (s) => `/translated${s}` };

beforeAll(async () => {
  daemon = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, body });
      if (req.url?.endsWith('/_ping')) return void res.end('OK');
      if (/\/containers\/[^/]+\/(re)?start(\?|$)/.test(req.url ?? '')) return void res.writeHead(204).end();
      if (req.url?.includes('/containers/create')) return void res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: 'abc', Warnings: [] }));
      if (req.url?.includes('/events')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"n":1}\n');
        // The rest comes only once the client has seen the first event through the proxy.
        void firstEventSeen.then(() => res.end('{"n":2}\n'));
        return;
      }
      res.writeHead(404).end('{"message":"nope"}');
    });
  });
  daemon.on('upgrade', (_req, socket: Socket, head: Buffer) => {
    upgrades++;
    socket.allowHalfOpen = true;
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    let got = head.toString();
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('end', () => socket.end(`echo:${got}`)); // answers after the client's half-close
  });
  await new Promise<void>((r) => daemon.listen(daemonPath, r));
  proxy = createDockerProxy({ connectDaemon: async () => connect(daemonPath), translator });
  await new Promise<void>((r) => proxy.listen(proxyPath, r));
});
afterAll(() => {
  proxy?.close();
  daemon?.close();
  rmSync(dir, { recursive: true, force: true });
});

function call(method: string, path: string, body?: string, onChunk?: (sofar: string) => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: proxyPath, method, path, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
        onChunk?.(text);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

function raw(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(proxyPath);
    s.on('error', () => {}); // the proxy may close first (an oversized request): its answer is what counts
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.end(text);
  });
}

describe('the Docker API proxy', () => {
  it('passes requests with and without API version prefixes', async () => {
    expect(await call('GET', '/v1.41/_ping')).toMatchObject({ status: 200, body: 'OK' });
    expect(await call('GET', '/_ping')).toMatchObject({ status: 200, body: 'OK' });
    expect((await call('GET', '/v1.41/nothing')).status).toBe(404);
  });

  it("translates bind sources in containers/create and passes the daemon's answer back", async () => {
    const r = await call('POST', '/v1.43/containers/create?name=x', JSON.stringify({ Image: 'i', HostConfig: { Binds: ['/home/me:/w', 'vol:/v'] } }));
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body).Id).toBe('abc');
    const last = seen.at(-1)!;
    expect(last.url).toBe('/v1.43/containers/create?name=x');
    expect(JSON.parse(last.body).HostConfig.Binds).toEqual(['/translated/home/me:/w', 'vol:/v']);
  });

  it('flushes streamed responses as they come', async () => {
    // The daemon holds its answer open until the first event reached the client: a proxy
    // that buffered the response would never pass it on, and the request would hang.
    const r = await call('GET', '/v1.41/events', undefined, (sofar) => sofar.includes('{"n":1}') && seeFirstEvent());
    expect(r.body).toBe('{"n":1}\n{"n":2}\n');
  });

  it('splices upgraded connections raw, half-close included', async () => {
    const reply = await raw('POST /v1.41/containers/abc/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello');
    expect(reply).toContain('101 UPGRADED');
    expect(reply.endsWith('echo:hello')).toBe(true);
  });

  it('refuses to splice a create sent with Upgrade: its binds never reach the daemon untranslated', async () => {
    const before = { upgrades, seen: seen.length };
    const body = JSON.stringify({ Image: 'i', HostConfig: { Binds: ['/etc:/host-etc'] } });
    const reply = await raw(`POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(reply).toMatch(/^HTTP\/1.1 400/);
    expect(reply).toContain('/containers/create does not upgrade the connection');
    expect(upgrades).toBe(before.upgrades);
    expect(seen.length).toBe(before.seen);
    expect((await call('GET', '/_ping')).body).toBe('OK');
  });

  it('refuses a HostConfig in start (API < 1.24) and bind mounts in services; passes an empty start', async () => {
    const before = seen.length;
    const old = await call('POST', '/v1.23/containers/abc/start', JSON.stringify({ Binds: ['/etc:/x'] }));
    expect(old.status).toBe(400);
    expect(JSON.parse(old.body).message).toMatch(/HostConfig in POST \/containers\/\{id\}\/start .* is not translated/);
    const service = await call('POST', '/v1.41/services/create', JSON.stringify({ TaskTemplate: { ContainerSpec: { Image: 'i', Mounts: [{ Type: 'bind', Source: '/etc', Target: '/x' }] } } }));
    expect(service.status).toBe(400);
    expect(JSON.parse(service.body).message).toMatch(/services with bind mounts are not translated/);
    const update = await call('POST', '/v1.41/services/svc1/update?version=3', JSON.stringify({ TaskTemplate: { ContainerSpec: { Mounts: [{ Type: 'bind', Source: 'C:\\x', Target: '/x' }] } } }));
    expect(update.status).toBe(400);
    expect(seen.length).toBe(before);
    await call('POST', '/v1.41/containers/abc/start');
    expect(seen.at(-1)).toMatchObject({ url: '/v1.41/containers/abc/start', body: '' });
    await call('POST', '/v1.41/services/create', JSON.stringify({ TaskTemplate: { ContainerSpec: { Image: 'i', Mounts: [{ Type: 'volume', Source: 'v', Target: '/x' }] } } }));
    expect(seen.at(-1)!.url).toBe('/v1.41/services/create');
  });

  it('answers bad input Docker-style and keeps serving', async () => {
    const badJson = await call('POST', '/containers/create', '{"Image":');
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.body).message).toMatch(/not valid JSON/);
    expect(await raw('THIS IS NOT HTTP\r\n\r\n')).toMatch(/^HTTP\/1.1 400[^]*"message":"Berth: malformed request/);
    expect(await raw(`GET /_ping HTTP/1.1\r\nX-Big: ${'a'.repeat(2 * 1024 * 1024)}\r\n\r\n`)).toMatch(/^HTTP\/1.1 431/);
    expect((await call('GET', '/_ping')).body).toBe('OK');
  });

  it("holds a start's answer until the container's ports are published, for start and restart, and never fails it for them", async () => {
    const order: string[] = [];
    let release: () => void = () => {};
    let failNext = false;
    const held = createDockerProxy({
      connectDaemon: async () => connect(daemonPath),
      translator,
      log: (l) => order.push(`log: ${l}`),
      afterStart: (id) => {
        order.push(`publishing ${id}`);
        if (failNext) return Promise.reject(new Error('the manager is away'));
        return new Promise<void>((r) => (release = () => (order.push(`published ${id}`), r())));
      },
    });
    const path = join(dir, 'held.sock');
    await new Promise<void>((r) => held.listen(path, r));
    const post = (url: string) =>
      new Promise<number>((resolve) => {
        request({ socketPath: path, method: 'POST', path: url }, (res) => {
          order.push(`answered ${res.statusCode}`);
          res.resume().on('end', () => resolve(res.statusCode ?? 0));
        }).end();
      });
    try {
      const started = post('/v1.41/containers/web/start');
      await until(() => order.includes('publishing web'));
      await new Promise((r) => setTimeout(r, 50));
      expect(order).toEqual(['publishing web']);
      release();
      expect(await started).toBe(204);
      expect(order).toEqual(['publishing web', 'published web', 'answered 204']);
      const restarted = post('/containers/web/restart?t=1');
      await until(() => order.includes('publishing web', 1));
      release();
      expect(await restarted).toBe(204);
      failNext = true;
      expect(await post('/containers/other/start')).toBe(204);
      expect(order.at(-2)).toMatch(/^log: POST \/containers\/other\/start: the manager is away/);
      // A start the daemon refuses publishes nothing.
      expect(await post('/containers/missing/stop')).toBe(404);
      expect(order.filter((l) => l.startsWith('publishing'))).toHaveLength(3);
    } finally {
      held.close();
    }
  });

  it('says so when the daemon cannot be reached', async () => {
    const lonely = createDockerProxy({ connectDaemon: async () => connect(join(dir, 'missing.sock')), translator });
    const path = join(dir, 'lonely.sock');
    await new Promise<void>((r) => lonely.listen(path, r));
    const r = await new Promise<{ status: number; body: string }>((resolve) => {
      request({ socketPath: path, path: '/_ping' }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      }).end();
    });
    lonely.close();
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body).message).toContain('cannot reach the Docker engine');
  });
});
