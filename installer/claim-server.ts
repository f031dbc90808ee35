import type { Server } from 'node:http';
import { containerStartedReplySchema, containerStartedSchema, portClaimReplySchema, portClaimSchema, type PortRequest } from '../common/port-forward/claim-messages.js';
import { jsonRoute as route, serveJsonSocket, type JsonRoute } from './json-socket.js';

export interface ClaimHandlers {
  /** Binds the ports before a container starts; a rejection is the start's error. */
  claim: (ports: PortRequest[]) => Promise<void>;
  /** The daemon started a container: its ports are made to lead to it before this resolves. */
  started: () => Promise<void>;
}

/**
 * The claim socket the distros' proxies ask: `POST /claim` with `{"ports": [{"host", "port",
 * "proto"}]}` before a container starts, and `POST /started` with `{"id"}` after the daemon
 * started one. A malformed or oversized request gets a Docker-style 400 and a log line; the
 * server keeps serving.
 */
export async function serveClaimSocket(path: string, handlers: ClaimHandlers, log: (line: string) => void): Promise<Server> {
  const routes: Record<string, JsonRoute<unknown>> = {
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
  // Root only (the distros' proxies): a claim binds host ports.
  return serveJsonSocket(path, routes, (line) => log(`claims: ${line}`));
}
