import { watch } from 'node:fs';
import { mkdir } from 'node:fs/promises';

export interface CertsWatch {
  close(): void;
}

/** fs.watch reports a copy as several events; one sync after they settle is enough. */
const SETTLE_MS = 250;

/**
 * Runs `onChange` once after each burst of changes in `dir` (created, 0755, if missing, so
 * the user can drop a file in it), never two at once: a change during a run runs it again.
 */
export async function watchDirectory(dir: string, onChange: () => Promise<void>, onError: (e: Error) => void): Promise<CertsWatch> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  const run = () => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = onChange()
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const watcher = watch(dir, () => {
    clearTimeout(timer);
    timer = setTimeout(run, SETTLE_MS);
  });
  watcher.on('error', onError);
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
