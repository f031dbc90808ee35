import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveControl, type AgentStatus } from '../../bootstrap-distro/agent/control.js';
import { LogDaemon, QUERY } from '../../bootstrap-distro/logd/daemon.js';
import { serveClaimSocket } from '../../installer/claim-server.js';
import { serveUdpForwarder } from '../../common/port-forward/forward.js';
import { serveNativeForwarder } from '../../common/port-forward/native-relay.js';
import { REPO } from '../helpers/wsl-root.js';
import type { PortRequest } from '../../common/port-forward/claim-messages.js';

/**
 * Each socket between Berth's processes, fed random bytes, truncated requests, oversized
 * lines and wrong types. It must answer or close, never crash, and serve the next
 * well-formed request. (An uncaught exception in a handler fails the test run.)
 */
const dir = mkdtempSync(join(tmpdir(), 'berth-fuzz-'));
const path = (n: string) => join(dir, n);
let seed = 42;
/** A small deterministic PRNG (mulberry32), so a failure is reproducible. */
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));

/** Sends bytes, maybe half of them and a hard close; resolves once the server has closed or 300 ms pass. */
function throwAt(socketPath: string, bytes: Buffer, abrupt: boolean): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, 300);
    s.on('error', done);
    s.on('close', done);
    s.on('data', () => {});
    s.on('connect', () => {
      if (abrupt) {
        s.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
        s.destroy(); // gone mid-request
      } else s.end(bytes);
    });
  });
}

const garbage = (valid: string): Buffer[] => [
  ...Array.from({ length: 25 }, () => randomBytes(1 + Math.floor(random() * 2048))),
  Buffer.from(valid.slice(0, Math.floor(valid.length / 2))),
  Buffer.alloc(1024 * 1024, 'a'),
  Buffer.from('\n\n\n\0\0\r\n'),
];

async function fuzz(socketPath: string, valid: string): Promise<void> {
  let i = 0;
  for (const bytes of garbage(valid)) await throwAt(socketPath, bytes, i++ % 3 === 0);
}

/** A request to the claim socket that must get a 400 whose message names the field. */
async function expectMalformed(route: string, body: string, message: string): Promise<void> {
  const r = await post(path('ports.sock'), 'POST', route, body);
  expect(r.status, body).toBe(400);
  expect(JSON.parse(r.body).message).toContain(message);
}

function post(socketPath: string, method: string, url: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path: url }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const servers: Array<Server | HttpServer> = [];
const relays: Array<{ close(): Promise<void> }> = [];
const logged: string[] = [];
const claimed: PortRequest[][] = [];
let stops = 0;
let started = 0;
let echoPort = 0;
const daemon = new LogDaemon({ maxLines: 100 });

beforeAll(async () => {
  servers.push(await serveClaimSocket(path('ports.sock'), { claim: async (ports) => void claimed.push(ports), started: async () => void started++ }, (l) => logged.push(l)));
  const status: AgentStatus = { state: 'running', engine: 'ready', pid: 1, startedAt: 'now', dockerSocket: '/x', onboot: [], services: [] };
  servers.push(await serveControl(path('agent.sock'), { status: async () => status, stop: () => void stops++, touch: async () => {} }));
  await daemon.listen(path('ingest.sock'), [path('log.sock')]);
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
  servers.push(echo);
  const published = async (_proto: string, ip: string, port: number) => ip === '127.0.0.1' && port === echoPort;
  relays.push(await serveNativeForwarder(join(REPO, 'dist/native/berth-relay'), path('forward.sock'), published, (l) => logged.push(l)));
  servers.push(await serveUdpForwarder(path('forward-udp.sock'), (l) => logged.push(l), published));
});
afterAll(async () => {
  for (const r of relays) await r.close();
  for (const s of servers) s.close();
  daemon.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fuzzing the sockets between Berth processes', () => {
  it('the claim socket: malformed claims get a 400 naming the field, and a good claim still goes through', async () => {
    const valid = JSON.stringify({ ports: [{ host: '127.0.0.1', port: 8080, proto: 'tcp' }] });
    await fuzz(path('ports.sock'), `POST /claim HTTP/1.1\r\nContent-Length: ${valid.length}\r\n\r\n${valid}`);
    for (const [body, field] of [
      ['{"ports":"all"}', 'ports'],
      ['{"ports":[{"host":"127.0.0.1","port":"80","proto":"tcp"}]}', 'ports.0.port'],
      ['{"ports":[{"host":"127.0.0.1","port":70000,"proto":"tcp"}]}', 'ports.0.port'],
      ['{"ports":[{"host":"127.0.0.1","port":80,"proto":"sctp"}]}', 'ports.0.proto'],
      ['{"ports":[],"extra":1}', ''],
      ['[]', ''],
      ['null', ''],
    ] as const)
      await expectMalformed('/claim', body, `malformed port claim at "${field}"`);
    const notJson = await post(path('ports.sock'), 'POST', '/claim', '{"ports": [');
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body).message).toMatch(/must be JSON/);
    expect((await post(path('ports.sock'), 'POST', '/claim', 'x'.repeat(200_000))).status).toBe(413);
    expect((await post(path('ports.sock'), 'GET', '/other')).status).toBe(404);
    expect(claimed).toEqual([]);
    const ok = await post(path('ports.sock'), 'POST', '/claim', valid);
    expect(ok.status).toBe(200);
    expect(claimed).toEqual([[{ host: '127.0.0.1', port: 8080, proto: 'tcp' }]]);
    expect(logged.some((l) => l.startsWith('claims: malformed request'))).toBe(true);
  });

  it('the claim socket: a start notice names one container id, or gets a 400 and publishes nothing', async () => {
    for (const [body, field] of [
      ['{}', 'id'],
      ['{"id":"../../x"}', 'id'],
      ['{"id":""}', 'id'],
      ['{"id":"abc","ports":[]}', ''],
      ['{"id":42}', 'id'],
    ] as const)
      await expectMalformed('/started', body, `malformed start notice at "${field}"`);
    expect(started).toBe(0);
    const ok = await post(path('ports.sock'), 'POST', '/started', '{"id":"web"}');
    expect([ok.status, JSON.parse(ok.body)]).toEqual([200, { published: true }]);
    expect(started).toBe(1);
  });

  it("the agent's control socket: garbage is answered or dropped, status still answers, nothing stops", async () => {
    await fuzz(path('agent.sock'), 'GET /status HTTP/1.1\r\n\r\n');
    expect((await post(path('agent.sock'), 'POST', '/nothing')).status).toBe(404);
    const s = await post(path('agent.sock'), 'GET', '/status');
    expect(JSON.parse(s.body).engine).toBe('ready');
    expect(stops).toBe(0);
  });

  it("the log daemon's query socket: an unknown query byte is named, a dump still works", async () => {
    await fuzz(path('log.sock'), String.fromCharCode(QUERY.dump));
    const answer = await new Promise<string>((resolve) => {
      const s = connect(path('log.sock'));
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('close', () => resolve(text));
      s.write(Buffer.from([9]));
    });
    expect(answer).toContain('unknown query byte 9');
    const dump = await new Promise<string>((resolve) => {
      const s = connect(path('log.sock'));
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('close', () => resolve(text));
      s.write(Buffer.from([QUERY.dump]));
    });
    expect(() =>
      dump
        .split('\n')
        .filter(Boolean)
        .forEach((l) => JSON.parse(l)),
    ).not.toThrow();
  });

  it('the forwarder: bad headers are dropped, an unpublished target is refused, a published one is carried', async () => {
    await fuzz(path('forward.sock'), `tcp 127.0.0.1 ${echoPort}\nhello`);
    const through = (header: string) =>
      new Promise<string>((resolve) => {
        const s = connect(path('forward.sock'));
        let text = '';
        s.on('data', (d: Buffer) => (text += d.toString()));
        s.on('close', () => resolve(text));
        s.on('error', () => resolve(text));
        s.end(`${header}\nping`);
      });
    expect(await through('tcp 10.0.0.1 22')).toBe('');
    expect(logged.some((l) => l.includes('refused to forward to tcp 10.0.0.1:22: no running container publishes it'))).toBe(true);
    expect(await through(`tcp 127.0.0.1 ${echoPort}`)).toBe('ping');
  });

  it('the UDP forwarder: bad headers and a TCP head are dropped, an unpublished target is refused, and it keeps serving', async () => {
    await fuzz(path('forward-udp.sock'), `udp 127.0.0.1 ${echoPort}\n`);
    const head = (text: string) =>
      new Promise<void>((resolve) => {
        const s = connect(path('forward-udp.sock'));
        s.on('close', () => resolve());
        s.on('error', () => resolve());
        s.end(`${text}\n`);
      });
    await head(`tcp 127.0.0.1 ${echoPort}`);
    await head('udp 10.0.0.1 53');
    expect(logged.some((l) => l.includes('refused to forward to udp 10.0.0.1:53: no running container publishes it'))).toBe(true);
  });
});

describe("the port helper's line protocol", () => {
  it('parses its commands and replies with one schema each, and names what is wrong with any other line', async () => {
    const { parseLine, portHelperCommandSchema, portHelperReplySchema } = await import('../../common/port-forward/helper-messages.js');
    expect(parseLine(portHelperCommandSchema, '{"op":"open","id":3,"key":"127.0.0.1:80/tcp","host":"127.0.0.1","port":80}')).toEqual({
      value: { op: 'open', id: 3, key: '127.0.0.1:80/tcp', host: '127.0.0.1', port: 80, proto: 'tcp' },
    });
    expect(parseLine(portHelperReplySchema, '{"id":3,"ok":false,"error":"EADDRINUSE"}')).toEqual({ value: { id: 3, ok: false, error: 'EADDRINUSE' } });
    expect(parseLine(portHelperCommandSchema, '{"op":"open","id":1,"key":"k","host":"h","port":"80"}')).toEqual({ error: expect.stringMatching(/^port: /) });
    expect(parseLine(portHelperCommandSchema, '{"op":"rm -rf","id":1}')).toEqual({ error: expect.stringMatching(/^op: /) });
    expect(parseLine(portHelperReplySchema, '{"id":1}')).toEqual({ error: expect.stringMatching(/^ok: /) });
    for (let i = 0; i < 200; i++) {
      const line = randomBytes(1 + Math.floor(random() * 200)).toString('latin1');
      expect(() => parseLine(portHelperCommandSchema, line)).not.toThrow();
    }
    expect('error' in parseLine(portHelperCommandSchema, 'x'.repeat(1_000_000))).toBe(true);
  });
});
