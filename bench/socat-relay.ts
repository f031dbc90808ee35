import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { sleep } from '../common/process.js';

/**
 * socat relaying a Unix socket of its own to another, one process per connection (`fork`):
 * the plain relay the proxy is measured against. Its listening socket is created mode 0600.
 */
export async function startSocatRelay(path: string, target: string): Promise<{ path: string; stop(): Promise<void> }> {
  const child = spawn('socat', [`UNIX-LISTEN:${path},fork,mode=600,unlink-early`, `UNIX-CONNECT:${target}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 100; i++) {
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    ) {
      return {
        path,
        stop: async () => {
          // socat's forked children end with their connections; the listener is ours to end.
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    if (child.exitCode !== null) break;
    await sleep(20);
  }
  child.kill('SIGKILL');
  throw new Error(`bench: socat did not listen on ${path} (is socat installed? bash scripts/setup.sh installs it)`);
}
