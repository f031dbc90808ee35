import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { Backoff } from '../../common/backoff.js';
import { followEvents, listContainers } from '../../common/docker-api.js';
import { HttpError, httpJson, httpRequest } from '../../common/http-client.js';
import { collectGarbageWhenIdle } from '../../common/idle-gc.js';
import { parseMountinfo } from '../../common/mountinfo.js';
import { SerialQueue } from '../../common/serial-queue.js';

let dir: string;
let server: Server;
let socket: string;
const eventClients: ServerResponse[] = [];
const eventUrls: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-common-'));
  socket = join(dir, 'api.sock');
  server = createServer((req, res) => {
    if (req.url === '/ok') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"n": 1}');
    if (req.url === '/refused') return res.writeHead(409).end('{"message": "port 8080 is taken on the host"}');
    if (req.url === '/wrong') return res.writeHead(200).end('{"n": "one"}');
    if (req.url === '/silent') return; // never answers
    if (req.url === '/containers/json')
      return res.writeHead(200).end(JSON.stringify([{ Id: 'c1', Ports: [{ PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }], NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } } }]));
    if (req.url?.startsWith('/events')) {
      res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders(); // as dockerd does
      eventClients.push(res);
      eventUrls.push(req.url);
      return;
    }
    res.writeHead(404).end('{"message": "no such route"}');
  });
  await new Promise<void>((r) => server.listen(socket, r));
});
afterAll(() => {
  for (const c of eventClients) c.destroy();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the one HTTP client', () => {
  it('speaks over a socket path and over any stream the caller opens', async () => {
    expect((await httpRequest(socket, { path: '/ok' })).body).toBe('{"n": 1}');
    const viaStream = await httpJson(() => Promise.resolve(connect(socket)), { path: '/ok' }, z.object({ n: z.number() }));
    expect(viaStream).toEqual({ n: 1 });
  });

  it("says why a request failed: the server's own message, a wrong shape, no answer", async () => {
    const schema = z.object({ n: z.number() });
    await expect(httpJson(socket, { path: '/refused' }, schema)).rejects.toMatchObject({ kind: 'status', status: 409, message: 'port 8080 is taken on the host' });
    await expect(httpJson(socket, { path: '/wrong' }, schema)).rejects.toMatchObject({ kind: 'shape' });
    await expect(httpJson(socket, { path: '/wrong' }, schema)).rejects.toThrow(/n: .*expected number/i);
    await expect(httpRequest(socket, { path: '/silent', timeoutMs: 100 })).rejects.toMatchObject({ kind: 'unreachable', message: 'no answer to GET /silent within 100 ms' });
    const gone = await httpRequest(join(dir, 'none.sock'), { path: '/ok' }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(HttpError);
    expect((gone as HttpError).kind).toBe('unreachable');
    expect((gone as HttpError).cause).toBeDefined();
  });
});

describe('the Docker API reader', () => {
  it('reads the container list with its ports and addresses', async () => {
    const [c] = await listContainers(socket);
    expect(c).toMatchObject({ Id: 'c1', Ports: [{ PublicPort: 8080, PrivatePort: 80 }], NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } } });
  });

  it('follows events line by line, skips foreign lines, and reopens the stream after the daemon drops it, from the last event on', async () => {
    const seen: string[] = [];
    let connected = 0;
    const follower = followEvents(socket, { type: ['container'] }, { onEvent: (e) => seen.push(`${e.Action} ${e.Actor?.ID}`), onConnected: () => connected++ });
    try {
      for (let i = 0; i < 100 && eventClients.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
      eventClients[0]!.write('{"Type":"container","Action":"start","Actor":{"ID":"c1"}}\nnot json\n{"Type":"container","Act');
      const dieTime = Math.floor(Date.now() / 1000) + 100; // later than the stream's answer
      eventClients[0]!.write(`ion":"die","Actor":{"ID":"c1"},"time":${dieTime}}\n`);
      for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual(['start c1', 'die c1']);
      expect(eventUrls[0]).not.toMatch(/since=/);
      eventClients[0]!.destroy();
      for (let i = 0; i < 200 && eventClients.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(eventClients).toHaveLength(2);
      // What happened while it was away is asked for: the daemon replays it.
      expect(eventUrls[1]).toMatch(new RegExp(`&since=${dieTime}$`));
      for (let i = 0; i < 100 && connected < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(connected).toBe(2);
    } finally {
      follower.stop();
    }
  });

  it('resumes a stream that carried no event from the time the daemon first answered (its Date)', async () => {
    eventClients.length = 0;
    eventUrls.length = 0;
    const follower = followEvents(socket, { type: ['container'] }, { onEvent: () => undefined });
    try {
      for (let i = 0; i < 100 && eventClients.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
      const answered = Math.floor(Date.now() / 1000);
      eventClients[0]!.destroy();
      for (let i = 0; i < 200 && eventClients.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const since = Number(/&since=(\d+)$/.exec(eventUrls[1] ?? '')?.[1]);
      expect(Math.abs(since - answered), eventUrls[1]).toBeLessThanOrEqual(1);
    } finally {
      follower.stop();
    }
  });
});

describe('the one backoff', () => {
  it('grows by its factor up to its cap, and starts over after a success or a healthy run', () => {
    const b = new Backoff(Backoff.ENGINE_START);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 3000, 9000, 27_000, 60_000, 60_000]);
    b.succeeded();
    expect(b.next()).toBe(1000);
    const s = new Backoff(Backoff.SERVICE_RESTART);
    s.next();
    s.next();
    s.ran(500); // a quick crash: the count goes on
    expect(s.next()).toBe(400);
    s.ran(10_000); // it ran long enough to count as healthy
    expect(s.next()).toBe(100);
  });
});

describe('the one mountinfo parser', () => {
  it('reads mount points with escaped spaces, and the fs type after optional fields', () => {
    const text = ['36 35 98:0 /mnt1 /mnt/my\\040files rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue', '37 35 0:40 / /mnt/wsl rw - tmpfs none rw', 'garbage'].join('\n');
    expect(parseMountinfo(text)).toEqual([
      { mountId: 36, parentId: 35, root: '/mnt1', mountPoint: '/mnt/my files', fsType: 'ext3', source: '/dev/root' },
      { mountId: 37, parentId: 35, root: '/', mountPoint: '/mnt/wsl', fsType: 'tmpfs', source: 'none' },
    ]);
  });
});

describe('the one serial queue', () => {
  it('runs tasks one at a time in order, and a failed task does not stop the next', async () => {
    const queue = new SerialQueue();
    const seen: string[] = [];
    let running = 0;
    const task =
      (name: string, fail = false) =>
      async () => {
        running++;
        expect(running).toBe(1);
        await new Promise((r) => setTimeout(r, 5));
        seen.push(name);
        running--;
        if (fail) throw new Error(`${name} failed`);
        return name;
      };
    const results = await Promise.allSettled([queue.run(task('a')), queue.run(task('b', true)), queue.run(task('c'))]);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b failed', 'c']);
  });
});

describe('giving memory back when idle', () => {
  it('collects only when the loop was idle and the heap grew since the last collection', () => {
    vi.useFakeTimers();
    try {
      let busy = 0.5;
      let heap = 40;
      let collected = 0;
      const stop = collectGarbageWhenIdle({ gc: () => (collected++, (heap = 10)), everyMs: 1000, busyShare: () => busy, heapBytes: () => heap });
      vi.advanceTimersByTime(1000);
      expect(collected).toBe(0); // busy: V8's own collector serves it
      busy = 0;
      vi.advanceTimersByTime(1000);
      expect(collected).toBe(1);
      vi.advanceTimersByTime(5000);
      expect(collected).toBe(1); // idle, but nothing new to give back
      heap = 12;
      vi.advanceTimersByTime(1000);
      expect(collected).toBe(2); // grown by more than 10% since the last one
      stop();
      heap = 50;
      vi.advanceTimersByTime(5000);
      expect(collected).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
