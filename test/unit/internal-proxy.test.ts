import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalProxy } from '../../installer/network/internal-proxy.js';
import type { PacRouter } from '../../installer/network/pac.js';

/** A stand-in upstream proxy: answers every proxied request itself, naming itself. */
async function upstream(name: string): Promise<{ server: Server; url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end(`via ${name}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** GET an absolute URL through the proxy at `port`, as dockerd and curl send it. */
function viaProxy(port: number, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: url, headers: { host: new URL(url).host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the internal proxy', () => {
  let proxy: InternalProxy;
  let port: number;
  let first: Awaited<ReturnType<typeof upstream>>;
  let second: Awaited<ReturnType<typeof upstream>>;
  let origin: Server;
  let originPort: number;
  const logged: string[] = [];

  beforeAll(async () => {
    [first, second] = [await upstream('first'), await upstream('second')];
    origin = createServer((_req, res) => res.end('direct from the host'));
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    originPort = (origin.address() as AddressInfo).port;
    proxy = new InternalProxy((l) => logged.push(l));
    port = await proxy.start();
  });
  afterAll(async () => {
    await proxy.close();
    for (const s of [first.server, second.server, origin]) s.close();
  });

  it('goes straight out when no upstream is set', async () => {
    expect(await viaProxy(port, `http://127.0.0.1:${originPort}/x`)).toBe('direct from the host');
  });

  it('follows a change of upstream at the next request, without a restart', async () => {
    proxy.configure({ http: first.url, exclude: [] });
    expect(await viaProxy(port, 'http://example.test/a')).toBe('via first');
    proxy.configure({ http: second.url, exclude: [] });
    expect(await viaProxy(port, 'http://example.test/b')).toBe('via second');
    expect(first.seen).toEqual(['http://example.test/a']);
    expect(second.seen).toEqual(['http://example.test/b']);
    expect(logged.join('\n')).toContain(`upstream now http ${second.url}`);
  });

  it('sends excluded hosts and *.docker.internal (the host itself) direct', async () => {
    proxy.configure({ http: first.url, exclude: ['127.0.0.1'] });
    expect(await viaProxy(port, `http://127.0.0.1:${originPort}/y`)).toBe('direct from the host');
    expect(await viaProxy(port, `http://host.docker.internal:${originPort}/z`)).toBe('direct from the host');
    expect(first.seen).not.toContain(`http://host.docker.internal:${originPort}/z`);
  });
});

describe('an upstream that asks for credentials (407)', () => {
  let upstream407: Server;
  let upstreamPort = 0;
  let proxy: InternalProxy;
  let port = 0;
  const refused: Array<{ hostPort: string; user?: string }> = [];
  const seenAuth: Array<string | undefined> = [];

  beforeAll(async () => {
    const answer407 = (req: { headers: Record<string, unknown> }) => seenAuth.push(req.headers['proxy-authorization'] as string | undefined);
    upstream407 = createServer((req, res) => {
      answer407(req);
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="corp"' }).end();
    });
    upstream407.on('connect', (req, socket) => {
      answer407(req);
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n\r\n');
    });
    await new Promise<void>((r) => upstream407.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream407.address() as AddressInfo).port;
    proxy = new InternalProxy(
      () => {},
      (p) => refused.push(p),
    );
    port = await proxy.start();
  });
  afterAll(async () => {
    await proxy.close();
    upstream407.close();
  });

  it('names the proxy and the user it was given, for a plain request and for a CONNECT, never the password', async () => {
    proxy.configure({ http: `http://alice:s3cret@127.0.0.1:${upstreamPort}`, exclude: [] });
    await viaProxy(port, 'http://example.test/a');
    const connected = await new Promise<number | undefined>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'CONNECT', path: 'example.test:443' });
      req.on('connect', (res, socket) => {
        socket.destroy();
        resolve(res.statusCode);
      });
      req.on('response', (res) => resolve(res.statusCode));
      req.on('error', reject);
      req.end();
    });
    expect(connected).not.toBe(200);
    expect(refused).toEqual([
      { hostPort: `127.0.0.1:${upstreamPort}`, user: 'alice' },
      { hostPort: `127.0.0.1:${upstreamPort}`, user: 'alice' },
    ]);
    // The internal proxy did send the credentials (Basic alice:s3cret) to the upstream.
    expect(seenAuth).toEqual([`Basic ${Buffer.from('alice:s3cret').toString('base64')}`, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`]);
    expect(JSON.stringify(refused)).not.toContain('s3cret');
  });

  it('names the proxy a PAC file chose for that request', async () => {
    refused.length = 0;
    const chosen = `http://127.0.0.1:${upstreamPort}`;
    proxy.configure({ pac: 'http://wpad.test/proxy.pac', exclude: [] }, { upstreamFor: async () => chosen } as unknown as PacRouter);
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'CONNECT', path: 'example.test:443' });
      req.on('connect', (_res, socket) => (socket.destroy(), resolve()));
      req.on('response', () => resolve());
      req.on('error', reject);
      req.end();
    });
    expect(refused).toEqual([{ hostPort: `127.0.0.1:${upstreamPort}` }]);
  });
});
