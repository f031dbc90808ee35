import { lookup } from 'node:dns';
import type { Server } from 'proxy-chain';
import { DOCKER_INTERNAL_NAMES } from './addresses.js';
import { isExcluded, NO_UPSTREAM, type UpstreamProxy } from './upstream-proxy.js';
import type { PacRouter } from './pac.js';
import { hideUrlPasswords } from '../secrets.js';

/**
 * The internal HTTP proxy (seed 001): the engine always talks to it, and it goes to the
 * upstream proxy the settings name, or straight out. Changing the upstream is a call to
 * `configure`: no restart of dockerd or of any container. It runs on the host side, so its
 * connections follow the host's routes, VPN and name resolution; `*.docker.internal` names
 * mean the host itself (its loopback).
 */
export class InternalProxy {
  private upstream: UpstreamProxy = NO_UPSTREAM;
  private pac: PacRouter | undefined;
  private server: Server | undefined;

  constructor(
    private readonly log: (line: string) => void,
    /** An upstream answered 407 (Proxy Authentication Required): which one, and the user it was given. */
    private readonly onAuthRequired: (proxy: { hostPort: string; user?: string }) => void = () => {},
  ) {}

  async start(): Promise<number> {
    const refused = (url: string | undefined) => {
      if (url) this.onAuthRequired(proxyIdentity(url));
    };
    // proxy-chain (and the SOCKS and address modules it brings) loads when the engine link first needs it, not with the backend.
    const { Server: ProxyServer } = await import('proxy-chain');
    const server = new (upstreamAuthWatch(ProxyServer))(() => refused(this.upstream.http), {
      host: '127.0.0.1',
      port: 0,
      prepareRequestFunction: async ({ request, hostname, port, isHttp }) => {
        const internal = DOCKER_INTERNAL_NAMES.has(hostname.toLowerCase());
        const up = this.upstream;
        const pac = this.pac;
        const direct = internal || isExcluded(hostname, up.exclude);
        // A CONNECT shows the PAC only scheme and host, as browsers do for https://.
        const url = isHttp ? (request.url ?? `http://${hostname}/`) : `https://${hostname}${port === 443 ? '' : `:${port}`}/`;
        const via = direct ? undefined : pac ? await pac.upstreamFor(url, hostname) : isHttp ? up.http : (up.https ?? up.http);
        return {
          upstreamProxyUrl: via ?? null,
          // Which upstream this request went to (a PAC may choose per request), for a 407's report.
          customTag: { upstream: via },
          // The engine's view of the host (its gateway) is this machine's loopback here.
          ...(internal ? { dnsLookup: ((_h: string, o: unknown, cb: unknown) => (lookup as (...a: unknown[]) => void)('127.0.0.1', o, cb)) as never } : {}),
        };
      },
    });
    server.on('requestFailed', ({ request, error }: { request: { url?: string }; error: Error }) => this.log(`proxy: ${request.url ?? '?'}: ${error.message}`));
    // A CONNECT (every https:// request) names its upstream in its tag.
    server.on('tunnelConnectFailed', ({ response, customTag }: { response: { statusCode?: number }; customTag?: { upstream?: string } }) => {
      if (response.statusCode === 407) refused(customTag?.upstream ?? this.upstream.https ?? this.upstream.http);
    });
    await server.listen();
    this.server = server;
    return server.port;
  }

  /** Takes effect for the next connection; open tunnels keep their way. */
  configure(upstream: UpstreamProxy, pac?: PacRouter): void {
    const before = JSON.stringify(this.upstream);
    this.upstream = upstream;
    this.pac = upstream.pac ? pac : undefined;
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

/**
 * proxy-chain turns an upstream's 407 to a plain http:// request into an error of its own
 * ("Invalid upstream proxy credentials", sent to the client as 597) and emits no event for
 * it: this is where it passes. (A class made once proxy-chain is loaded.)
 */
function upstreamAuthWatch(ProxyServer: typeof Server) {
  return class UpstreamAuthWatch extends ProxyServer {
    constructor(
      private readonly onRefused: () => void,
      options: ConstructorParameters<typeof Server>[0],
    ) {
      super(options);
    }

    override normalizeHandlerError(error: NodeJS.ErrnoException): NodeJS.ErrnoException {
      const normalized = super.normalizeHandlerError(error);
      if (error.message === '407 Proxy Authentication Required') this.onRefused();
      return normalized;
    }
  };
}

/** host:port and the user of a proxy URL, never its password. */
function proxyIdentity(url: string): { hostPort: string; user?: string } {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return { hostPort: `${u.hostname}:${port}`, ...(u.username ? { user: decodeURIComponent(u.username) } : {}) };
}

/** For logs and status: the URLs without their passwords. */
export function describeUpstream(u: UpstreamProxy): string {
  if (u.pac) return [`pac ${hideUrlPasswords(u.pac)}`, u.exclude.length && `except ${u.exclude.join(',')}`].filter(Boolean).join(', ');
  if (!u.http && !u.https) return 'direct';
  return [u.http && `http ${hideUrlPasswords(u.http)}`, u.https && `https ${hideUrlPasswords(u.https)}`, u.exclude.length && `except ${u.exclude.join(',')}`].filter(Boolean).join(', ');
}
