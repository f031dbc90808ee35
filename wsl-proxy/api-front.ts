import { createInterface } from 'node:readline';
import { spawnRelay } from '../common/port-forward/native-relay.js';

/**
 * `berth-relay api` (wsl-proxy/native/api-front.c), the native front of a distro's proxy:
 * it listens on the distro's docker.sock, carries the requests Berth passes on unchanged
 * straight to the daemon, and hands every other connection, from its first translated
 * request on, to this process's server (the translator) on a root-only socket.
 */
export interface ApiFrontOptions {
  /** The berth-relay binary (the berth distro's, through the shared area). */
  relay: string;
  /** The distro's socket, opened to root and `gid` (0660). */
  socket: string;
  gid: number;
  daemon: string;
  /** Where the Node translator listens (root only). */
  translator: string;
  /** Resource Saver: resolves once the engine runs (never rejects); asked at most every 5 s. */
  wake: () => Promise<void>;
  log: (line: string) => void;
}

export interface ApiFront {
  readonly pid: number | undefined;
  /** Called if the front ends on its own (why), not after stop(). */
  onExit(handler: (why: string) => void): void;
  stop(): Promise<void>;
}

/** Starts the front; resolves once it listens, rejects (with its words) if it cannot. */
export function startApiFront(o: ApiFrontOptions): Promise<ApiFront> {
  const child = spawnRelay(o.relay, ['api', '--listen', o.socket, '--gid', String(o.gid), '--daemon', o.daemon, '--translator', o.translator]);
  // What it said before it listened (why it could not); later lines only go to the log.
  let said: string[] | undefined = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    said?.push(line);
    o.log(line);
  });
  let exitHandlers: Array<(why: string) => void> = [];
  return new Promise((resolve, reject) => {
    void child.exited.then((why = 'exited') => {
      if (said) reject(new Error(`berth-relay api ${why} before it listened on ${o.socket}${said.length ? `: ${said.join('; ')}` : ''}`));
      for (const handler of exitHandlers) handler(why);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') {
        said = undefined;
        resolve({
          pid: child.pid,
          onExit: (handler) => exitHandlers.push(handler),
          stop: () => {
            exitHandlers = [];
            child.stdin.end();
            return child.exited.then(() => undefined);
          },
        });
      } else if (line === 'wake') {
        void o.wake().then(() => child.stdin.write('awake\n'));
      } else {
        o.log(`berth-relay api: ignored an unexpected line: ${line.slice(0, 200)}`);
      }
    });
  });
}
