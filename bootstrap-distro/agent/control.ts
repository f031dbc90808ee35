import { listenUnix, ROOT_ONLY } from '../../wsl-host/unix-socket.js';
import { request, createServer, type Server } from 'node:http';
import { rm } from 'node:fs/promises';

/** What the supervisor reports about the LinuxKit root. */
export interface ServiceStatus {
  name: string;
  state: 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';
  pid: number | null;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
  /** Seconds since the current process started, or null when none runs. */
  uptime: number | null;
}

export interface AgentStatus {
  state: 'starting' | 'running' | 'stopping';
  engine: 'starting' | 'ready';
  /** The supervisor's pid as the berth distro sees it (for `shell`). */
  pid: number;
  startedAt: string;
  dockerSocket: string;
  onboot: Array<{ name: string; exitCode: number; seconds: number }>;
  services: ServiceStatus[];
}

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

/** One JSON request over a Unix socket (the agent's or the backend's control socket); undefined when none answers. */
export function controlRequest<T>(socketPath: string, method: 'GET' | 'POST', path: string, timeoutMs = 2000): Promise<T | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
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
