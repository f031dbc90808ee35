import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Wakes a wait for a daemon's Unix socket when the socket's directory says it changed
 * (inotify sees the socket made from any mount namespace, as it watches the directory
 * itself): a start then tries the socket once it is there, not every few milliseconds.
 * Polling every 2 ms, the start and the supervisor each made ~125 connects during
 * dockerd's start, CPU that dockerd wanted on two cores. The backstop covers a file
 * system without events, and the moment between the socket's bind and its listen.
 */
export class SocketWatch {
  private watcher: FSWatcher | undefined;
  private pending = false;
  private wake: (() => void) | undefined;

  constructor(socketPath: string) {
    const name = basename(socketPath);
    const changed = () => {
      this.pending = true;
      this.wake?.();
    };
    try {
      this.watcher = watch(dirname(socketPath), { persistent: false }, (_event, file) => {
        // No name given (some file systems): any change may be the socket.
        if (file === null || file === name) changed();
      });
      this.watcher.on('error', () => this.close());
    } catch (e) {
      // The directory is not there (yet): the backstop alone wakes the wait.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Resolves at the socket's next change (or at once if it changed since the last call), else after `backstopMs`. */
  changed(backstopMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, backstopMs);
      this.wake = done;
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.wake?.();
  }
}
