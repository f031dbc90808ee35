import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProxyError } from './errors.js';

// The Docker API proxy's HTTP pieces (docker-proxy.ts decides what each request gets).

/** How one request is forwarded: a body read already, and hooks on the daemon's answer. */
export interface ForwardHow {
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

/** A start body with anything in it (a HostConfig), as API versions before 1.24 allowed. */
export function carriesConfig(raw: Buffer): boolean {
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
export function hasServiceBindMount(spec: unknown): boolean {
  const mounts = (spec as { TaskTemplate?: { ContainerSpec?: { Mounts?: unknown } } } | null)?.TaskTemplate?.ContainerSpec?.Mounts;
  return Array.isArray(mounts) && mounts.some((m) => (m as { Type?: unknown } | null)?.Type === 'bind');
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

/** An error answered on a raw socket (an upgrade, or a request the HTTP parser refused), as JSON like the daemon's own. */
export function endWithError(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
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

/** A request body as JSON (an empty one as `{}` where `emptyIs` says so), or a 400 naming the problem. */
export function parseJson(raw: Buffer, emptyIs?: unknown): unknown {
  if (raw.length === 0 && emptyIs !== undefined) return emptyIs;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ProxyError(400, `Berth: the request body is not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

/** A service spec may not carry bind mounts (they would not be translated). */
export async function refuseServiceBinds(json: unknown): Promise<unknown> {
  if (hasServiceBindMount(json)) throw new ProxyError(400, 'Berth: swarm services with bind mounts are not translated; use a volume, or `docker run` / Compose for bind mounts');
  return json;
}

/** The daemon's answer on to the client: streamed as it comes, or read whole where `how` transforms or watches it. */
export function relayAnswer(up: IncomingMessage, res: ServerResponse, how: ForwardHow): void {
  const { transform, onResponse } = how;
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
}

/** An inspect answer with the client's own paths; the daemon's answer as it was if it is not what we expect. */
export function rewriteJson(body: Buffer, rewrite: (container: Record<string, unknown>) => Record<string, unknown>): Buffer {
  try {
    return Buffer.from(JSON.stringify(rewrite(JSON.parse(body.toString('utf8')) as Record<string, unknown>)));
  } catch {
    return body;
  }
}

/** The upgrade request sent on to the daemon as it came, then the two connections joined byte for byte. */
export function spliceUpgrade(req: IncomingMessage, client: Socket, head: Buffer, daemon: Duplex): void {
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
}
