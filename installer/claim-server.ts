import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { z } from 'zod';
import { containerStartedReplySchema, containerStartedSchema, portClaimReplySchema, portClaimSchema, type PortRequest } from '../common/port-forward/claim-messages.js';
import { listenUnix, ROOT_ONLY } from '../common/unix-socket.js';

/** A claim names at most a few ports; anything this big is not one. */
const MAX_CLAIM_BYTES = 64 * 1024;

export interface ClaimHandlers {
  /** Binds the ports before a container starts; a rejection is the start's error. */
  claim: (ports: PortRequest[]) => Promise<void>;
  /** The daemon started a container: its ports are made to lead to it before this resolves. */
  started: () => Promise<void>;
}

interface Answer {
  status: number;
  body: unknown;
}

/** One route of the claim socket: its request schema and what it does with a valid request. */
interface Route<T> {
  schema: z.ZodType<T>;
  what: string;
  handle: (request: T) => Promise<Answer>;
}

const route = <T>(r: Route<T>): Route<unknown> => r as Route<unknown>;

/** The request's JSON body, or an answer saying why there is none. */
function readJson(req: IncomingMessage, what: string, log: (line: string) => void): Promise<{ json: unknown } | { refused: Answer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_CLAIM_BYTES) {
        log(`claims: refused a request over ${MAX_CLAIM_BYTES} bytes`);
        // Read no further; the connection is dropped once the answer is out.
        req.removeAllListeners('data');
        req.pause();
        resolve({ refused: { status: 413, body: { message: `Berth: a ${what} must be under ${MAX_CLAIM_BYTES} bytes` } } });
      } else chunks.push(d);
    });
    req.on('error', () => {});
    req.on('end', () => {
      try {
        resolve({ json: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch (e) {
        log(`claims: malformed request: ${(e as Error).message}`);
        resolve({ refused: { status: 400, body: { message: `Berth: a ${what} must be JSON (${(e as Error).message})` } } });
      }
    });
  });
}

/**
 * The claim socket the distros' proxies ask: `POST /claim` with `{"ports": [{"host", "port",
 * "proto"}]}` before a container starts, and `POST /started` with `{"id"}` after the daemon
 * started one. A malformed or oversized request gets a Docker-style 400 and a log line; the
 * server keeps serving.
 */
export async function serveClaimSocket(path: string, handlers: ClaimHandlers, log: (line: string) => void): Promise<Server> {
  const routes: Record<string, Route<unknown>> = {
    '/claim': route({
      schema: portClaimSchema,
      what: 'port claim',
      handle: (r) =>
        handlers.claim(r.ports).then(
          () => ({ status: 200, body: portClaimReplySchema.parse({ claimed: r.ports.length }) }),
          (e: Error) => ({ status: 409, body: { message: e.message } }),
        ),
    }),
    '/started': route({
      schema: containerStartedSchema,
      what: 'start notice',
      handle: () =>
        handlers.started().then(
          () => ({ status: 200, body: containerStartedReplySchema.parse({ published: true }) }),
          (e: Error) => ({ status: 500, body: { message: `Berth: cannot publish the container's ports: ${e.message}` } }),
        ),
    }),
  };
  const server = createServer((req, res) => {
    const answer = ({ status, body }: Answer) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(body));
      if (!req.complete) res.once('finish', () => req.destroy());
    };
    const r = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
    if (!r) {
      req.resume();
      return answer({ status: 404, body: { message: `Berth: no such endpoint ${req.method} ${req.url}; use POST /claim or POST /started` } });
    }
    void readJson(req, r.what, log).then(async (read) => {
      if ('refused' in read) return answer(read.refused);
      const checked = r.schema.safeParse(read.json);
      if (!checked.success) {
        const issue = checked.error.issues[0]!;
        log(`claims: malformed request: ${issue.path.join('.')}: ${issue.message}`);
        return answer({ status: 400, body: { message: `Berth: malformed ${r.what} at "${issue.path.join('.')}": ${issue.message}` } });
      }
      answer(await r.handle(checked.data));
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  // Root only (the distros' proxies): a claim binds host ports.
  await listenUnix(server, path, ROOT_ONLY);
  return server;
}
