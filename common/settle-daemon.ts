import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { collectGarbageWhenIdle } from './idle-gc.js';
import { DAEMON_V8_FLAGS } from './node-flags.js';

/**
 * Called by a daemon once its modules are loaded: DAEMON_V8_FLAGS on, and its heap given
 * back whenever it goes idle. A built-in module it loads later is compiled from source then.
 * A young generation that grew while the modules loaded shrinks back at the first idle
 * collection (measured: the backend's 8 MiB to 2, the supervisor's 4 to 2, as
 * `--max-semi-space-size=1` held them) and grows no more.
 */
export function settleAsDaemon(): void {
  for (const flag of DAEMON_V8_FLAGS) setFlagsFromString(flag);
  // `--expose-gc` set at run time puts `gc` in contexts made after it, not in this one.
  collectGarbageWhenIdle({ gc: runInNewContext('gc') as () => void });
}
