import { connect as netConnect } from 'node:net';
import { posix } from 'node:path';
import { Duplex } from 'node:stream';
import { WslError } from './errors.js';
import type { WslProcess } from './host.js';
import { SHARED_AREA } from '../common/shared-area.js';

const SHARED = SHARED_AREA;

/** The host's own path for a socket under /mnt/wsl, refusing anything outside it. */
export function sharedAreaHostPath(sharedAreaPath: string, socketPath: string): string {
  const normal = posix.normalize(socketPath);
  if (normal !== SHARED && !normal.startsWith(`${SHARED}/`)) {
    throw new WslError('failed', `Only sockets under ${SHARED} can be reached from the host, not ${socketPath}`);
  }
  return posix.join(sharedAreaPath, posix.relative(SHARED, normal));
}

/** Direct transport: the host sees the shared area, so it connects to the socket itself. */
export function connectDirect(sharedAreaPath: string, socketPath: string): Promise<Duplex> {
  const path = sharedAreaHostPath(sharedAreaPath, socketPath);
  return new Promise((resolve, reject) => {
    const socket = netConnect(path);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => reject(new WslError('failed', `Cannot connect to ${socketPath} (${e.code ?? e.message}); is the service that owns it running`)));
  });
}

/**
 * Relay transport: a process in the distro copies its stdin/stdout to the socket. This is
 * what works through wsl.exe, where the host cannot open a distro's sockets.
 */
export async function connectRelay(relay: WslProcess): Promise<Duplex> {
  const { stdin, stdout } = relay;
  if (!stdin || !stdout) throw new WslError('failed', 'The relay process has no stdin/stdout');
  stdin.on('error', () => {}); // the relay may exit first; its exit code tells why
  const duplex = new Duplex({
    write: (chunk: Buffer, _enc, done) => void stdin.write(chunk, done),
    final: (done) => {
      stdin.end();
      done();
    },
    read: () => void stdout.resume(),
  });
  stdout.on('data', (d: Buffer) => {
    if (!duplex.push(d)) stdout.pause();
  });
  let stderr = '';
  relay.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  // The reading side ends only once the relay's exit is known, so a relay that failed (no
  // such socket) reads as that error, not as a peer that closed without a word.
  relay.done.then(
    (r) => {
      if (r.exitCode === 0) duplex.push(null);
      else duplex.destroy(new WslError('failed', `The socket relay failed (exit ${r.exitCode}): ${stderr.trim() || r.stderr.trim()}`));
    },
    (e: unknown) => duplex.destroy(e as Error),
  );
  duplex.on('close', () => relay.kill('SIGTERM'));
  return duplex;
}
