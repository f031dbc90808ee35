import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalProxy } from '../../installer/network/internal-proxy.js';

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
