import { Agent, createServer, request, type AgentOptions, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { addProxyEnv, type ContainersProxyEnv } from './containers-proxy-env.js';
import { ProxyError } from './errors.js';
import { carriesConfig, endWithError, parseJson, readBody, refuseServiceBinds, relayAnswer, rewriteJson, sendError, spliceUpgrade, type ForwardHow } from './proxy-http.js';
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

/**
 * `/v1.41/containers/create?name=x` → `/containers/create`, read as the daemon's router
 * reads it: the absolute form's scheme and host dropped (`http://docker/containers/create`),
 * escapes decoded (`/containers/%63reate` is a create), doubled slashes as one.
 */
export function routeOf(url: string): string {
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').replace(/[?#][\s\S]*$/, '');
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // a malformed escape: the daemon refuses the request itself (400)
  }
  return decoded.replace(/\/{2,}/g, '/').replace(/^\/v\d+(\.\d+)?(?=\/)/, '');
}

/** What the proxy does with a request beyond passing it on; `id` is the route's `{id}`. */
type RouteWork = (req: IncomingMessage, res: ServerResponse, id: string) => Promise<void>;

/** `/containers/{id}/start` → a matcher of whole routes whose first group is the id. */
function routePattern(template: string): RegExp {
  return new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace('{id}', '([^/]+)')}$`);
}

/**
 * The Docker API proxy: every request and response passes unchanged (streams flushed as
 * they come, upgrades spliced raw) except the requests whose paths it translates.
 */
export function createDockerProxy(options: DockerProxyOptions): Server {
  return new DockerProxy(options).server();
}

class DockerProxy {
  private readonly log: (line: string) => void;
  private readonly agent: DaemonAgent;
  private readonly routes: Array<{ method: string; pattern: RegExp; work: RouteWork }>;

  constructor(private readonly options: DockerProxyOptions) {
    this.log = options.log ?? (() => {});
    this.agent = new DaemonAgent(options.connectDaemon, { keepAlive: true, maxSockets: 256, maxFreeSockets: 32 });
    this.routes = this.specialRoutes();
  }

  /** The requests the proxy does more than pass on, each with its work (which may fail). */
  private specialRoutes(): Array<{ method: string; pattern: RegExp; work: RouteWork }> {
    const { translator, rewriteInspect } = this.options;
    const table: Array<[method: string, template: string, work: RouteWork]> = [
      ['POST', '/containers/create', (req, res) => this.create(req, res)],
      ['POST', '/volumes/create', (req, res) => this.translated(req, res, (json) => translateVolumeBody(json, translator))],
      ['POST', '/containers/{id}/start', (req, res, id) => this.start(req, res, id)],
      ['POST', '/containers/{id}/restart', async (req, res, id) => this.forward(req, res, { beforeReply: this.startedHook(id) })],
      ['POST', '/services/create', (req, res) => this.translated(req, res, refuseServiceBinds)],
      ['POST', '/services/{id}/update', (req, res) => this.translated(req, res, refuseServiceBinds)],
      // docker inspect shows the client's own paths.
      ['GET', '/containers/{id}/json', async (req, res) => this.forward(req, res, rewriteInspect ? { transform: (body) => rewriteJson(body, rewriteInspect) } : {})],
    ];
    return table.map(([method, template, work]) => ({ method, pattern: routePattern(template), work }));
  }

  server(): Server {
    // Resource Saver hears of every request first (a paused engine resumes before it is sent;
    // a pooled connection to the daemon would otherwise carry it to a frozen one).
    const wake = this.options.beforeRequest ?? (() => Promise.resolve());
    const server = createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => void wake().then(() => this.handleRequest(req, res)));
    server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => void wake().then(() => this.handleUpgrade(req, client, head)));
    server.on('close', () => this.agent.destroy());
    // Malformed HTTP gets an answer, not a hang; the server keeps serving everyone else.
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) return socket.destroy();
      endWithError(socket, err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400, `Berth: malformed request (${err.code ?? err.message})`);
    });
    return server;
  }

  private handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const work = this.handleSpecially(req, res, routeOf(req.url ?? '/'));
    if (!work) return this.forward(req, res);
    work.catch((e: Error) => {
      this.log(`${req.method} ${req.url}: ${e.message}`);
      sendError(res, e instanceof ProxyError ? e.status : 500, e.message);
    });
  }

  /** The work of a request the proxy does more than pass on; undefined for the rest. */
  private handleSpecially(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> | undefined {
    const own = req.method === 'POST' ? this.options.berthRoutes?.[route] : undefined;
    if (own) return this.answerHere(req, res, own);
    for (const { method, pattern, work } of this.routes) {
      const match = method === req.method ? pattern.exec(route) : null;
      if (match) return work(req, res, match[1] ?? '');
    }
    return undefined;
  }

  /** One of Berth's own routes on this socket: answered here, never sent to the daemon. */
  private async answerHere(req: IncomingMessage, res: ServerResponse, route: (json: unknown) => Promise<{ status: number; body: unknown }>): Promise<void> {
    const answer = await route(parseJson(await readBody(req)));
    const body = JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  }

  /** The body read, translated, and sent on instead of the client's. */
  private async translated(req: IncomingMessage, res: ServerResponse, translate: (json: unknown) => Promise<unknown>, onResponse?: (status: number, json: Buffer) => void): Promise<void> {
    const json = parseJson(await readBody(req), {});
    this.forward(req, res, { body: Buffer.from(JSON.stringify(await translate(json))), onResponse });
  }

  /** A create: paths and the containers' proxy variables translated; its mounts recorded, or released when it fails. */
  private async create(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { options } = this;
    let mappings: PathMapping[] = [];
    const translate = async (json: unknown) => {
      const r = await translateCreateBody(json, options.translator);
      mappings = r.mappings;
      if (options.containerEnv) addProxyEnv(r.body, await options.containerEnv());
      return r.body;
    };
    const answered = (status: number, body: Buffer) => {
      if (mappings.length === 0) return;
      if (status !== 201) return options.onCreateFailed?.(mappings);
      try {
        options.onCreated?.((JSON.parse(body.toString()) as { Id: string }).Id, mappings);
      } catch {
        // the daemon said 201; what it returned is its business
      }
    };
    try {
      await this.translated(req, res, translate, answered);
    } catch (e) {
      options.onCreateFailed?.(mappings);
      throw e;
    }
  }

  /** A start: its ports claimed first (a refusal fails it), and made to lead to it before the client hears it started. */
  private async start(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const raw = await readBody(req);
    // API < 1.24 let start carry a HostConfig (binds, ports) that would skip translation.
    if (carriesConfig(raw))
      throw new ProxyError(400, 'Berth: a HostConfig in POST /containers/{id}/start (API before 1.24) is not translated; give binds and ports in the create request, as every current docker client does');
    await this.options.beforeStart?.(id);
    this.forward(req, res, { body: raw, beforeReply: this.startedHook(id) });
  }

  // 204: started; 304: it was running already (its ports may still be new to Berth).
  private startedHook(id: string) {
    return async (status: number) => {
      if (status === 204 || status === 304) await this.options.afterStart?.(id);
    };
  }

  private forward(req: IncomingMessage, res: ServerResponse, how: ForwardHow = {}): void {
    const { body, beforeReply } = how;
    const headers = { ...req.headers };
    if (body) {
      headers['content-length'] = String(body.length);
      delete headers['transfer-encoding'];
    }
    const upstream = request({ method: req.method, path: req.url, headers, agent: this.agent });
    upstream.on('response', (up) => {
      if (!beforeReply) return relayAnswer(up, res, how);
      // The answer waits (unread) until the hook is done; a hook never fails the request.
      up.pause();
      beforeReply(up.statusCode ?? 0)
        .catch((e: Error) => this.log(`${req.method} ${req.url}: ${e.message}`))
        .finally(() => relayAnswer(up, res, how));
    });
    upstream.on('error', (e) => sendError(res, 502, `Berth: cannot reach the Docker engine (${e.message}); is Berth running? \`berth status\``));
    req.on('aborted', () => upstream.destroy());
    if (body) upstream.end(body);
    else req.pipe(upstream);
  }

  // `docker run -it`, attach, exec: the daemon answers 101 and the connection becomes raw.
  private handleUpgrade(req: IncomingMessage, client: Socket, head: Buffer): void {
    // Only the routes that really upgrade are spliced raw: any other request asking to
    // upgrade (a create with `Upgrade: tcp`) would reach the daemon untranslated.
    if (!UPGRADE_ROUTES.test(routeOf(req.url ?? ''))) {
      this.log(`refused an upgrade of ${req.method} ${req.url}`);
      endWithError(client, 400, `Berth: ${routeOf(req.url ?? '')} does not upgrade the connection; only attach, exec start, session and grpc do. Send it without Upgrade and Connection: Upgrade`);
      return;
    }
    // `docker run -i` closes its stdin and still reads the output: keep each half open.
    client.allowHalfOpen = true;
    this.options.connectDaemon().then(
      (daemon) => spliceUpgrade(req, client, head, daemon),
      (e: Error) => endWithError(client, 502, `Berth: cannot reach the Docker engine (${e.message})`),
    );
  }
}
