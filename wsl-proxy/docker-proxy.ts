import { Agent, createServer, request, STATUS_CODES, type AgentOptions, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { addProxyEnv, type ContainersProxyEnv } from './containers-proxy-env.js';
import { ProxyError } from './errors.js';
import { translateCreateBody, translateVolumeBody, type PathMapping, type PathTranslator } from './translate.js';

/** The Docker API routes that switch protocols (attach, exec start, BuildKit's session and grpc). */
const UPGRADE_ROUTES = /^(\/containers\/[^/]+\/attach(\/ws)?|\/exec\/[^/]+\/start|\/session|\/grpc)$/;

export interface DockerProxyOptions {
  /** A fresh byte stream to the daemon's socket. */
  connectDaemon: () => Promise<Duplex>;
  translator: PathTranslator;
  log?: (line: string) => void;
  /** Called after a create was forwarded, with the container id and its translated paths. */
  onCreated?: (id: string, mappings: PathMapping[]) => void;
  /** Called when a create failed (in translation or at the daemon): its mounts must not leak. */
  onCreateFailed?: (mappings: PathMapping[]) => void;
  /**
   * Before `POST /containers/{id}/start`: claims the container's published ports; throwing a
   * ProxyError fails the start with its message, and the container does not start.
   */
  beforeStart?: (id: string) => Promise<void>;
  /**
   * After the daemon started (or restarted) a container and before the client hears so: the
   * container's published ports are made to lead to it, so they answer when `start` returns.
   */
  afterStart?: (id: string) => Promise<void>;
  /** Variables every new container gets unless its request sets them (the containers' proxy). */
  containerEnv?: () => Promise<ContainersProxyEnv>;
  /** Before each request is handled: Resource Saver's touch (see common/engine-waker.ts); never rejects. */
  beforeRequest?: () => Promise<void>;
  /** Shows the client's own paths in `GET /containers/{id}/json` instead of the daemon's. */
  rewriteInspect?: (container: Record<string, unknown>) => Record<string, unknown>;
  /** Berth's own `POST` endpoints on this socket (JSON in, JSON out): answered here, never sent to the daemon. */
  berthRoutes?: Record<string, (json: unknown) => Promise<{ status: number; body: unknown }>>;
}

/**
 * Connections to the daemon, kept alive and reused between requests (a new one per request
 * costs more than the request), made by connectDaemon so any transport works.
 */
class DaemonAgent extends Agent {
  constructor(
    private readonly connectDaemon: () => Promise<Duplex>,
    options: AgentOptions,
  ) {
    super(options);
  }

  override createConnection(_options: unknown, done?: (err: Error | null, socket: Duplex) => void): undefined {
    this.connectDaemon().then(
      (socket) => done?.(null, socket),
      (e: Error) => done?.(e, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** How one request is forwarded: a body read already, and hooks on the daemon's answer. */
interface ForwardHow {
  /** The (translated) body to send instead of the client's stream. */
  body?: Buffer;
  /** Called with the whole answer once it has passed on. */
  onResponse?: (status: number, json: Buffer) => void;
  /** Rewrites a 200 answer's body before the client sees it. */
  transform?: (body: Buffer) => Buffer;
  /** Awaited before the answer's head reaches the client. */
  beforeReply?: (status: number) => Promise<void>;
}

/** Largest JSON body the proxy reads to translate; everything else streams through. */
const MAX_TRANSLATED_BODY = 16 * 2 ** 20;

/** `/v1.41/containers/create?name=x` → `/containers/create`. */
export function routeOf(url: string): string {
  return url.replace(/\?.*$/, '').replace(/^\/v\d+(\.\d+)?(?=\/)/, '');
}

/** A start body with anything in it (a HostConfig), as API versions before 1.24 allowed. */
function carriesConfig(raw: Buffer): boolean {
  const text = raw.toString('utf8').trim();
  if (text === '' || text === 'null' || text === '{}') return false;
  try {
    const json: unknown = JSON.parse(text);
    return typeof json !== 'object' || json === null || Object.keys(json).length > 0;
  } catch (e) {
    throw new ProxyError(400, `Berth: the request body is not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

/** A service spec whose task mounts a path of the client's machine. */
function hasServiceBindMount(spec: unknown): boolean {
  const mounts = (spec as { TaskTemplate?: { ContainerSpec?: { Mounts?: unknown } } } | null)?.TaskTemplate?.ContainerSpec?.Mounts;
  return Array.isArray(mounts) && mounts.some((m) => (m as { Type?: unknown } | null)?.Type === 'bind');
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

/** An error answered on a raw socket (an upgrade, or a request the HTTP parser refused), as JSON like the daemon's own. */
function endWithError(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_TRANSLATED_BODY) {
        reject(new ProxyError(413, `Berth: request body over ${MAX_TRANSLATED_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The Docker API proxy: every request and response passes unchanged (streams flushed as
 * they come, upgrades spliced raw) except the requests whose paths it translates.
 */
export function createDockerProxy(options: DockerProxyOptions): Server {
  const log = options.log ?? (() => {});
  const agent = new DaemonAgent(options.connectDaemon, { keepAlive: true, maxSockets: 256, maxFreeSockets: 32 });

  const forward = (req: IncomingMessage, res: ServerResponse, how: ForwardHow = {}) => {
    const { body, onResponse, transform, beforeReply } = how;
    const headers = { ...req.headers };
    if (body) {
      headers['content-length'] = String(body.length);
      delete headers['transfer-encoding'];
    }
    const upstream = request({ method: req.method, path: req.url, headers, agent });
    const relay = (up: IncomingMessage) => {
      if (transform && up.statusCode === 200) {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const out = transform(Buffer.concat(chunks));
          const headers: Record<string, string | string[] | undefined> = { ...up.headers, 'content-length': String(out.length) };
          delete headers['transfer-encoding'];
          res.writeHead(200, headers).end(out);
        });
        return;
      }
      res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders);
      res.flushHeaders();
      if (onResponse) {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => onResponse(up.statusCode ?? 0, Buffer.concat(chunks)));
      }
      up.pipe(res);
      res.on('close', () => up.destroy());
    };
    upstream.on('response', (up) => {
      if (!beforeReply) return relay(up);
      // The answer waits (unread) until the hook is done; a hook never fails the request.
      up.pause();
      beforeReply(up.statusCode ?? 0)
        .catch((e: Error) => log(`${req.method} ${req.url}: ${e.message}`))
        .finally(() => relay(up));
    });
    upstream.on('error', (e) => sendError(res, 502, `Berth: cannot reach the Docker engine (${e.message}); is Berth running? \`berth status\``));
    req.on('aborted', () => upstream.destroy());
    if (body) upstream.end(body);
    else req.pipe(upstream);
  };

  // 204: started; 304: it was running already (its ports may still be new to Berth).
  const startedHook = (id: string) => async (status: number) => {
    if (status === 204 || status === 304) await options.afterStart?.(id);
  };

  const handleRequest = (req: IncomingMessage, res: ServerResponse) => {
    const route = routeOf(req.url ?? '/');
    const translated = async (translate: (json: unknown) => Promise<unknown>, onResponse?: (status: number, json: Buffer) => void) => {
      const raw = await readBody(req);
      let json: unknown;
      try {
        json = raw.length ? JSON.parse(raw.toString('utf8')) : {};
      } catch (e) {
        throw new ProxyError(400, `Berth: the request body is not valid JSON (${(e as Error).message})`, { cause: e });
      }
      forward(req, res, { body: Buffer.from(JSON.stringify(await translate(json))), onResponse });
    };
    let work: Promise<void> | undefined;
    const own = req.method === 'POST' ? options.berthRoutes?.[route] : undefined;
    if (own) {
      work = (async () => {
        const raw = await readBody(req);
        let json: unknown;
        try {
          json = JSON.parse(raw.toString('utf8'));
        } catch (e) {
          throw new ProxyError(400, `Berth: the request body is not valid JSON (${(e as Error).message})`, { cause: e });
        }
        const answer = await own(json);
        const body = JSON.stringify(answer.body);
        res.writeHead(answer.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      })();
    } else if (req.method === 'POST' && route === '/containers/create') {
      let mappings: PathMapping[] = [];
      work = translated(
        async (json) => {
          const r = await translateCreateBody(json, options.translator);
          mappings = r.mappings;
          if (options.containerEnv) addProxyEnv(r.body, await options.containerEnv());
          return r.body;
        },
        (status, body) => {
          if (mappings.length === 0) return;
          if (status !== 201) return options.onCreateFailed?.(mappings);
          try {
            options.onCreated?.((JSON.parse(body.toString()) as { Id: string }).Id, mappings);
          } catch {
            // the daemon said 201; what it returned is its business
          }
        },
      );
      work = work.catch((e: unknown) => {
        options.onCreateFailed?.(mappings);
        throw e;
      });
    } else if (req.method === 'POST' && route === '/volumes/create') {
      work = translated((json) => translateVolumeBody(json, options.translator));
    } else if (req.method === 'POST' && /^\/containers\/[^/]+\/start$/.test(route)) {
      const id = decodeURIComponent(route.split('/')[2]!);
      work = (async () => {
        const raw = await readBody(req);
        // API < 1.24 let start carry a HostConfig (binds, ports) that would skip translation.
        if (carriesConfig(raw)) throw new ProxyError(400, 'Berth: a HostConfig in POST /containers/{id}/start (API before 1.24) is not translated; give binds and ports in the create request, as every current docker client does');
        await options.beforeStart?.(id);
        forward(req, res, { body: raw, beforeReply: startedHook(id) });
      })();
    } else if (req.method === 'POST' && /^\/containers\/[^/]+\/restart$/.test(route) && options.afterStart) {
      forward(req, res, { beforeReply: startedHook(decodeURIComponent(route.split('/')[2]!)) });
      return;
    } else if (req.method === 'POST' && /^\/services\/(create|[^/]+\/update)$/.test(route)) {
      work = translated(async (json) => {
        if (hasServiceBindMount(json)) throw new ProxyError(400, 'Berth: swarm services with bind mounts are not translated; use a volume, or `docker run` / Compose for bind mounts');
        return json;
      });
    }
    if (!work && req.method === 'GET' && options.rewriteInspect && /^\/containers\/[^/]+\/json$/.test(route)) {
      const rewrite = options.rewriteInspect;
      forward(req, res, {
        transform: (body) => {
          try {
            return Buffer.from(JSON.stringify(rewrite(JSON.parse(body.toString('utf8')) as Record<string, unknown>)));
          } catch {
            return body;
          }
        },
      });
      return;
    }
    if (!work) {
      forward(req, res);
      return;
    }
    work.catch((e: Error) => {
      log(`${req.method} ${req.url}: ${e.message}`);
      sendError(res, e instanceof ProxyError ? e.status : 500, e.message);
    });
  };

  // `docker run -it`, attach, exec: the daemon answers 101 and the connection becomes raw.
  const handleUpgrade = (req: IncomingMessage, client: Socket, head: Buffer) => {
    // Only the routes that really upgrade are spliced raw: any other request asking to
    // upgrade (a create with `Upgrade: tcp`) would reach the daemon untranslated.
    if (!UPGRADE_ROUTES.test(routeOf(req.url ?? ''))) {
      log(`refused an upgrade of ${req.method} ${req.url}`);
      endWithError(client, 400, `Berth: ${routeOf(req.url ?? '')} does not upgrade the connection; only attach, exec start, session and grpc do. Send it without Upgrade and Connection: Upgrade`);
      return;
    }
    // `docker run -i` closes its stdin and still reads the output: keep each half open.
    client.allowHalfOpen = true;
    options.connectDaemon().then(
      (daemon) => {
        const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        (daemon as Partial<Socket>).allowHalfOpen = true;
        daemon.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length) daemon.write(head);
        client.pipe(daemon);
        daemon.pipe(client);
        const close = () => {
          client.destroy();
          daemon.destroy();
        };
        client.on('error', close);
        daemon.on('error', close);
      },
      (e: Error) => {
        endWithError(client, 502, `Berth: cannot reach the Docker engine (${e.message})`);
      },
    );
  };

  // Resource Saver hears of every request first (a paused engine resumes before it is sent;
  // a pooled connection to the daemon would otherwise carry it to a frozen one).
  const wake = options.beforeRequest ?? (() => Promise.resolve());
  const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => void wake().then(() => handleRequest(req, res)));
  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => void wake().then(() => handleUpgrade(req, client, head)));

  server.on('close', () => agent.destroy());

  // Malformed HTTP gets an answer, not a hang; the server keeps serving everyone else.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    endWithError(socket, status, `Berth: malformed request (${err.code ?? err.message})`);
  });
  return server;
}
