import { lookup } from 'node:dns';
import { Server } from 'proxy-chain';
import { DOCKER_INTERNAL_NAMES } from './addresses.js';
import { isExcluded, NO_UPSTREAM, type UpstreamProxy } from './upstream-proxy.js';

/**
 * The internal HTTP proxy (seed 001): the engine always talks to it, and it goes to the
 * upstream proxy the settings name, or straight out. Changing the upstream is a call to
 * `configure`: no restart of dockerd or of any container. It runs on the host side, so its
 * connections follow the host's routes, VPN and name resolution; `*.docker.internal` names
 * mean the host itself (its loopback).
 */
export class InternalProxy {
  private upstream: UpstreamProxy = NO_UPSTREAM;
  private server: Server | undefined;

  constructor(private readonly log: (line: string) => void) {}

  async start(): Promise<number> {
    const server = new Server({
      host: '127.0.0.1',
      port: 0,
      prepareRequestFunction: ({ hostname, isHttp }) => {
        const internal = DOCKER_INTERNAL_NAMES.has(hostname.toLowerCase());
        const up = this.upstream;
        const via = internal || isExcluded(hostname, up.exclude) ? undefined : isHttp ? up.http : (up.https ?? up.http);
        return {
          upstreamProxyUrl: via ?? null,
          // The engine's view of the host (its gateway) is this machine's loopback here.
          ...(internal ? { dnsLookup: ((_h: string, o: unknown, cb: unknown) => (lookup as (...a: unknown[]) => void)('127.0.0.1', o, cb)) as never } : {}),
        };
      },
    });
    server.on('requestFailed', ({ request, error }: { request: { url?: string }; error: Error }) => this.log(`proxy: ${request.url ?? '?'}: ${error.message}`));
    await server.listen();
    this.server = server;
    return server.port;
  }

  /** Takes effect for the next connection; open tunnels keep their way. */
  configure(upstream: UpstreamProxy): void {
    const before = JSON.stringify(this.upstream);
    this.upstream = upstream;
    if (JSON.stringify(upstream) !== before) this.log(`proxy: upstream now ${describeUpstream(upstream)}`);
  }

  get current(): UpstreamProxy {
    return this.upstream;
  }

  async close(): Promise<void> {
    await this.server?.close(true);
    this.server = undefined;
  }
}

/** For logs and status: the URLs without their passwords. */
export function describeUpstream(u: UpstreamProxy): string {
  const hide = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  if (!u.http && !u.https) return 'direct';
  return [u.http && `http ${hide(u.http)}`, u.https && `https ${hide(u.https)}`, u.exclude.length && `except ${u.exclude.join(',')}`].filter(Boolean).join(', ');
}
