import type { z } from 'zod';
import type { AgentStatus } from './status-schema.js';
import { listenUnix, ROOT_ONLY } from '../../wsl-host/unix-socket.js';
import { request, createServer, type Server } from 'node:http';
import { rm } from 'node:fs/promises';

export type { AgentStatus, ServiceStatus } from './status-schema.js';

/** The control socket: GET /status, POST /stop. */
export async function serveControl(
  socketPath: string,
  handlers: { status: () => AgentStatus; stop: () => void },
): Promise<Server> {
  await rm(socketPath, { force: true });
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(handlers.status()));
    } else if (req.method === 'POST' && req.url === '/stop') {
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"stopping":true}');
      handlers.stop();
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `no such endpoint: ${req.method} ${req.url}; use GET /status or POST /stop` }));
    }
  });
  // Root only: whoever reaches it can stop the engine.
  await listenUnix(server, socketPath, ROOT_ONLY);
  return server;
}

/**
 * One JSON request over a Unix socket (the agent's or the backend's control socket);
 * undefined when none answers, or when the answer does not fit `schema`.
 */
export function controlRequest<T>(socketPath: string, method: 'GET' | 'POST', path: string, timeoutMs = 2000, schema?: z.ZodType<T>): Promise<T | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          const json: unknown = JSON.parse(body);
          if (!schema) return resolve(json as T);
          const checked = schema.safeParse(json);
          resolve(checked.success ? checked.data : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}
