import { connect } from 'node:net';
import { posix } from 'node:path';

/**
 * `relay SOCKET`: the far end of WslHost.connect where the host cannot open the shared area
 * itself (Windows, through `wsl.exe --exec`). Bytes both ways, half-close passed on.
 */
export async function run(args: string[]): Promise<number> {
  const [socketPath] = args;
  if (!socketPath || args.length !== 1 || !posix.normalize(socketPath).startsWith('/mnt/wsl/')) {
    process.stderr.write('berth-agent: relay takes one socket path under /mnt/wsl/\n');
    return 2;
  }
  const socket = connect({ path: socketPath, allowHalfOpen: true });
  return new Promise<number>((resolve) => {
    socket.once('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(`berth-agent: cannot reach ${socketPath} (${e.code ?? e.message})\n`);
      resolve(1);
    });
    socket.once('connect', () => {
      process.stdin.pipe(socket);
      socket.pipe(process.stdout);
      socket.once('end', () => process.stdout.end());
      process.stdout.once('finish', () => resolve(0));
    });
  });
}
