import { chmod, chown, rm } from 'node:fs/promises';
import type { Server } from 'node:net';

export interface SocketAccess {
  /** The socket file's mode, e.g. 0o600 (root only) or 0o660 (root and `gid`). */
  mode: number;
  /** Group allowed in with 0o660; the owner stays whoever listens (root). */
  gid?: number;
}

/**
 * Listens on a Unix socket whose mode and owner are set explicitly, never left to the umask:
 * the socket is born 0600 (umask 0177 around the synchronous bind) and only then opened up
 * to `access`, so there is no moment when anyone else may connect. A stale file is replaced.
 */
export async function listenUnix(server: Server, path: string, access: SocketAccess): Promise<void> {
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  if (access.gid !== undefined) await chown(path, 0, access.gid);
  await chmod(path, access.mode);
}

/** Root only: control sockets, logs, the forwarder, port claims. */
export const ROOT_ONLY: SocketAccess = { mode: 0o600 };
