import { createServer, type Server, type Socket } from 'node:net';

export interface EchoServer {
  server: Server;
  port: number;
  /** Its open connections, so a test can see that every one was closed. */
  sockets: Set<Socket>;
}

/** A TCP echo server on 127.0.0.1 that keeps half-close (it ends its side only once the client has). */
export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, sockets };
}
