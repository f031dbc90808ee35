import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { WslHost } from '../wsl-host/host.js';
import { BERTH_DISTRO } from './distros.js';
import { DAEMON_SOCKET } from './engine.js';

/**
 * The Docker API on the host (a Unix socket here; on Windows the same code listens on the
 * named pipe \\.\pipe\berth_engine): each connection is carried to the daemon's socket in
 * the berth distro through WslHost.connect, bytes unchanged both ways, half-close included.
 */
export async function serveHostEndpoint(wsl: WslHost, path: string, log: (line: string) => void): Promise<Server> {
  if (process.platform !== 'win32') {
    await mkdir(dirname(path), { recursive: true });
    await rm(path, { force: true });
  }
  const server = createServer({ allowHalfOpen: true }, (client: Socket) => {
    client.pause();
    wsl.connect(BERTH_DISTRO, DAEMON_SOCKET).then(
      (daemon) => {
        client.pipe(daemon);
        daemon.pipe(client);
        client.resume();
        const close = () => {
          client.destroy();
          daemon.destroy();
        };
        client.on('error', close);
        daemon.on('error', close);
        client.on('close', () => daemon.destroy());
      },
      (e: Error) => {
        log(`host endpoint: cannot reach the engine: ${e.message}`);
        const body = JSON.stringify({ message: 'Berth: the engine is not running; start it with `berth start`.' });
        client.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  return server;
}
