import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiFront, type ApiFront } from '../../wsl-proxy/api-front.js';
import { createDockerProxy } from '../../wsl-proxy/docker-proxy.js';
import type { PathTranslator } from '../../wsl-proxy/translate.js';
import { BUILD_BOTH_TIMEOUT_MS, buildBoth, nativeBuilds } from '../helpers/native-builds.js';

// The distro proxy's two halves on one machine: berth-relay api on the client socket, the
// Node translator (the real createDockerProxy) behind it, and a stand-in daemon that
// records what reaches it and over how many connections. Run with the static build the
// product ships and with the ASan/UBSan build, whose reports would end the front.
const builds = nativeBuilds('berth-relay');

beforeAll(buildBoth, BUILD_BOTH_TIMEOUT_MS);

const translator: PathTranslator = { toDaemon: async (s) => `/translated${s}` };
const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;

async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end && !check();) await new Promise((r) => setTimeout(r, 20));
  return check();
}

describe.each(builds)('the API front ($name)', ({ binary }) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-api-front-'));
  const paths = { daemon: join(dir, 'daemon.sock'), translator: join(dir, 'translator.sock'), front: join(dir, 'docker.sock') };
  const seen: Array<{ method?: string; url?: string; body: Buffer }> = [];
  const logs: string[] = [];
  let daemon: Server;
  let node: Server;
  let front: ApiFront;
  let daemonConnections = 0;
  let translatorConnections = 0;
  let wakes = 0;
  let releaseSecondEvent: () => void = () => {};

  beforeAll(async () => {
    daemon = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method, url: req.url, body });
        const url = (req.url ?? '').replace(/\?.*$/, '');
        if (url.endsWith('/_ping')) return void res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 2 }).end(req.method === 'HEAD' ? undefined : 'OK');
        if (url.endsWith('/version')) return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"Version":"stand-in"}');
        if (url.includes('/containers/create') || url.includes('/containers/%63reate')) return void res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"abc","Warnings":[]}');
        if (url.endsWith('/images/load') || url.includes('/archive'))
          return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ bytes: body.length, sha: createHash('sha256').update(body).digest('hex') }));
        if (url.endsWith('/events')) {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write('{"n":1}\n');
          new Promise<void>((r) => (releaseSecondEvent = r)).then(
            () => res.end('{"n":2}\n'),
            () => undefined,
          );
          return;
        }
        if (url.endsWith('/until-close')) {
          // A response framed by the end of the connection, as a hijacked stream's is.
          req.socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nevery byte until the end');
          return;
        }
        if (req.method === 'DELETE') return void res.writeHead(204).end();
        res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"no such route"}');
      });
    });
    daemon.on('connection', () => daemonConnections++);
    await new Promise<void>((r) => daemon.listen(paths.daemon, r));
    node = createDockerProxy({ connectDaemon: async () => connect(paths.daemon), translator });
    node.on('connection', () => translatorConnections++);
    await new Promise<void>((r) => node.listen(paths.translator, r));
    front = await startApiFront({
      relay: binary,
      socket: paths.front,
      gid: process.getgid!(),
      daemon: paths.daemon,
      translator: paths.translator,
      wake: async () => void wakes++,
      log: (l) => logs.push(l),
    });
  });
  afterAll(async () => {
    await front?.stop();
    node?.close();
    node?.closeAllConnections();
    daemon?.close();
    daemon?.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });

  function call(method: string, path: string, body?: Buffer | string, agent?: Agent): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: paths.front, method, path, agent }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Writes `parts` one by one (a pause between), then reads until `done` says the answers are all in. */
  function raw(parts: string[], done: (sofar: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(paths.front);
      let got = '';
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (done(got)) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('close', () => resolve(got));
      void (async () => {
        for (const p of parts) {
          s.write(p);
          await new Promise((r) => setTimeout(r, 15));
        }
      })();
    });
  }

  it('listens on a socket of root and the docker group only (0660)', () => {
    const st = statSync(paths.front);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(process.getgid!());
  });

  it('answers what Berth passes on unchanged without Node, on one kept daemon connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = { daemon: daemonConnections, translator: translatorConnections, seen: seen.length };
    for (let i = 0; i < 50; i++) expect((await call('GET', '/_ping', undefined, agent)).body).toBe('OK');
    expect((await call('GET', '/v1.43/version', undefined, agent)).body).toBe('{"Version":"stand-in"}');
    expect((await call('HEAD', '/_ping', undefined, agent)).status).toBe(200); // a head with a length and no body
    expect((await call('DELETE', '/containers/old', undefined, agent)).status).toBe(204);
    agent.destroy();
    expect(seen.length - before.seen).toBe(53);
    expect(daemonConnections - before.daemon).toBe(1);
    expect(translatorConnections - before.translator).toBe(0);
  });

  it('asks Node to wake the engine before a request, at most once in 5 s', async () => {
    const before = wakes;
    for (let i = 0; i < 20; i++) await call('GET', '/_ping');
    expect(wakes - before).toBeLessThanOrEqual(1);
    expect(wakes).toBeGreaterThanOrEqual(1);
  });

  it('hands a connection to the translator at its first translated request, answers staying in order', async () => {
    const create = JSON.stringify({ Image: 'x', HostConfig: { Binds: ['/home/me:/w'] } });
    const before = translatorConnections;
    const answers = await raw(
      [
        'GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n',
        `POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${create.length}\r\n\r\n${create}`,
        'GET /version HTTP/1.1\r\nHost: docker\r\n\r\n',
      ],
      (s) => s.includes('stand-in'),
    );
    expect(answers.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 201', 'HTTP/1.1 200']);
    expect(translatorConnections - before).toBe(1);
    const made = seen.filter((s) => s.url?.includes('/containers/create')).at(-1)!;
    expect(JSON.parse(made.body.toString()).HostConfig.Binds).toEqual(['/translated/home/me:/w']);
  });

  it('reads pipelined requests and heads split across packets', async () => {
    const answers = await raw(
      ['GET /_pi', 'ng HTTP/1.1\r\nHo', 'st: docker\r\n\r\nGET /version HTTP/1.1\r\nHost: docker\r\n\r\nGET /_ping HTTP/1.1\r\n', 'Host: docker\r\n\r\n'],
      (s) => (s.match(/HTTP\/1\.1 200/g) ?? []).length === 3 && s.endsWith('OK'),
    );
    expect(answers.indexOf('OK')).toBeLessThan(answers.indexOf('stand-in'));
    expect(answers.lastIndexOf('OK')).toBeGreaterThan(answers.indexOf('stand-in'));
  });

  it('leaves no spelling of a translated route to pass untranslated: escapes, doubled slashes, the absolute form', async () => {
    const create = JSON.stringify({ Image: 'x', HostConfig: { Binds: ['/home/me:/w'] } });
    for (const path of ['/containers/%63reate', '//containers/create', '/v1.41//containers/create', 'http://docker/v1.41/containers/create']) {
      const before = seen.length;
      const r = await call('POST', path, create);
      expect(r.status, path).toBe(201);
      expect(JSON.parse(seen[before]!.body.toString()).HostConfig.Binds, path).toEqual(['/translated/home/me:/w']);
    }
  });

  it('carries a chunked 8 MiB body (docker load) and a sized one (docker cp) intact', async () => {
    const blob = randomBytes(8 << 20);
    const sha = createHash('sha256').update(blob).digest('hex');
    const before = translatorConnections;
    const loaded = await new Promise<string>((resolve, reject) => {
      const req = request({ socketPath: paths.front, method: 'POST', path: '/v1.43/images/load?quiet=1', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      for (let at = 0; at < blob.length; at += 100_003) req.write(blob.subarray(at, at + 100_003));
      req.end();
    });
    expect(JSON.parse(loaded)).toEqual({ bytes: blob.length, sha });
    expect(JSON.parse((await call('PUT', '/containers/abc/archive?path=/', blob)).body)).toEqual({ bytes: blob.length, sha });
    expect(translatorConnections - before).toBe(0);
  });

  it('flushes a streamed answer as it comes, and passes one framed by the end of the connection', async () => {
    const first = await new Promise<string>((resolve, reject) => {
      const req = request({ socketPath: paths.front, path: '/events' }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('"n":1')) {
            resolve(text);
            releaseSecondEvent();
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(first).toContain('{"n":1}');
    const answer = await raw(['GET /until-close HTTP/1.1\r\nHost: docker\r\n\r\n'], () => false);
    expect(answer).toMatch(/every byte until the end$/);
  });

  it('gives malformed requests to Node, whose parser answers them Docker-style', async () => {
    const answer = await raw(['NOT HTTP AT ALL\r\n\r\n'], () => false);
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain('malformed request');
    const smuggled = await raw(['POST /images/load HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'], () => false);
    expect(smuggled).toMatch(/^HTTP\/1\.1 400/);
  });

  it('carries 1,000 concurrent connections and leaves no descriptor or thread behind, even from clients that left mid-body', async () => {
    const fds = openFds(front.pid!);
    const results = await Promise.all(
      Array.from({ length: 1000 }, () =>
        call('GET', '/_ping').then(
          (r) => r.body,
          (e: Error) => e.message,
        ),
      ),
    );
    expect(results.filter((r) => r !== 'OK')).toEqual([]);
    // Clients that leave in the middle of a body: the daemon side is closed too.
    await Promise.all(
      Array.from({ length: 20 }, () => {
        const s: Socket = connect(paths.front);
        s.on('error', () => undefined);
        s.write('POST /images/load HTTP/1.1\r\nHost: d\r\nContent-Length: 1000000\r\n\r\npartial');
        return new Promise((r) => setTimeout(r, 50)).then(() => s.destroy());
      }),
    );
    expect(await until(() => openFds(front.pid!) <= fds && threads(front.pid!) <= 2, 10_000), `fds ${openFds(front.pid!)} (was ${fds}), threads ${threads(front.pid!)}`).toBe(true);
    expect(logs.filter((l) => /AddressSanitizer|runtime error/.test(l))).toEqual([]);
  }, 60_000);
});
