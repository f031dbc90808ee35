import { createServer, type IncomingMessage, type Server } from 'node:http';
import type * as z from '../common/zod.js';
import { listenUnix, ROOT_ONLY } from '../common/unix-socket.js';

/** No request to these sockets is anywhere near this big. */
const MAX_REQUEST_BYTES = 64 * 1024;

export interface Answer {
  status: number;
  body: unknown;
}

/** One `POST` route: its request schema, what a request is called in errors, and what it does. */
export interface JsonRoute<T> {
  schema: z.ZodType<T>;
  what: string;
  handle: (request: T) => Promise<Answer>;
}

export const jsonRoute = <T>(r: JsonRoute<T>): JsonRoute<unknown> => r as JsonRoute<unknown>;

/** The request's JSON body, or an answer saying why there is none. */
function readJson(req: IncomingMessage, what: string, log: (line: string) => void): Promise<{ json: unknown } | { refused: Answer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_REQUEST_BYTES) {
        log(`refused a request over ${MAX_REQUEST_BYTES} bytes`);
        // Read no further; the connection is dropped once the answer is out.
        req.removeAllListeners('data');
        req.pause();
        resolve({ refused: { status: 413, body: { message: `Berth: a ${what} must be under ${MAX_REQUEST_BYTES} bytes` } } });
      } else chunks.push(d);
    });
    req.on('error', () => {});
    req.on('end', () => {
      try {
        resolve({ json: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch (e) {
        log(`malformed request: ${(e as Error).message}`);
        resolve({ refused: { status: 400, body: { message: `Berth: a ${what} must be JSON (${(e as Error).message})` } } });
      }
    });
  });
}

/**
 * A root-only Unix socket of `POST` routes with schema-checked JSON bodies, for the distros'
 * proxies (which run as root) to ask the manager. A malformed or oversized request gets a
 * Docker-style 400/413 and a log line; the server keeps serving.
 */
export async function serveJsonSocket(path: string, routes: Record<string, JsonRoute<unknown>>, log: (line: string) => void): Promise<Server> {
  const server = createServer((req, res) => {
    const answer = ({ status, body }: Answer) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(body));
      if (!req.complete) res.once('finish', () => req.destroy());
    };
    const r = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
    if (!r) {
      req.resume();
      return answer({
        status: 404,
        body: {
          message: `Berth: no such endpoint ${req.method} ${req.url}; use ${Object.keys(routes)
            .map((p) => `POST ${p}`)
            .join(' or ')}`,
        },
      });
    }
    void readJson(req, r.what, log).then(async (read) => {
      if ('refused' in read) return answer(read.refused);
      const checked = r.schema.safeParse(read.json);
      if (!checked.success) {
        const issue = checked.error.issues[0]!;
        log(`malformed request: ${issue.path.join('.')}: ${issue.message}`);
        return answer({ status: 400, body: { message: `Berth: malformed ${r.what} at "${issue.path.join('.')}": ${issue.message}` } });
      }
      answer(await r.handle(checked.data));
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await listenUnix(server, path, ROOT_ONLY);
  return server;
}
