import { stopReplySchema, type AgentStatus } from './status-schema.js';
import { touchReplySchema } from '../../common/engine-waker.js';
import { listenUnix, ROOT_ONLY } from '../../common/unix-socket.js';
import { createServer, type Server } from 'node:http';
import { rm } from 'node:fs/promises';

export type { AgentStatus, ServiceStatus } from './status-schema.js';

/** The control socket: GET /status, POST /stop, POST /touch (Resource Saver). */
export async function serveControl(socketPath: string, handlers: { status: () => Promise<AgentStatus>; stop: () => void; touch: () => Promise<void> }): Promise<Server> {
  await rm(socketPath, { force: true });
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/status') {
      void handlers.status().then(
        (status) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status)),
        (e: Error) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: e.message })),
      );
    } else if (req.method === 'POST' && req.url === '/stop') {
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify(stopReplySchema.parse({ stopping: true })));
      handlers.stop();
    } else if (req.method === 'POST' && req.url === '/touch') {
      // Resource Saver: a request is on its way; answered once the engine is resumed.
      void handlers.touch().then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(touchReplySchema.parse({ resumed: true }))),
        (e: Error) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: e.message })),
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `no such endpoint: ${req.method} ${req.url}; use GET /status, POST /stop or POST /touch` }));
    }
  });
  // Root only: whoever reaches it can stop the engine.
  await listenUnix(server, socketPath, ROOT_ONLY);
  return server;
}
