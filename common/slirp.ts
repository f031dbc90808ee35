import { startHelper } from './helper-start.js';
import type { RunningHelper } from './process.js';
import { findHelper, slirpArgs, type SlirpOptions } from './user-mode-net.js';

export interface SlirpStart extends Omit<SlirpOptions, 'readyFd'> {
  /** Its stderr goes here (created 0600). */
  logFile: string;
  /** Written 0600 as soon as it runs, so a stop finds it even if this process dies next. */
  pidFile: string;
  /** Runs on after the caller exits (WSL's NAT, started by a berth-wsl that ends). */
  detached?: boolean;
}

/**
 * Starts slirp4netns and resolves once the link is configured (it says "1" on its
 * --ready-fd, fd 3: no polling of the namespace), or throws naming its log.
 */
export async function startSlirp(o: SlirpStart): Promise<RunningHelper> {
  const program = await findHelper('slirp4netns');
  try {
    return await startHelper({ program, args: slirpArgs({ ...o, readyFd: 3 }), logFile: o.logFile, pidFile: o.pidFile, detached: o.detached ?? false, readyOn: 'fd3', ready: saysConfigured, readyWord: 'configured' });
  } catch (e) {
    throw new Error(`slirp4netns did not come up (${(e as Error).message}); see ${o.logFile}`, { cause: e });
  }
}

function saysConfigured(readyFd: NodeJS.ReadableStream): Promise<string | true> {
  return new Promise((resolve) => readyFd.once('data', (d: Buffer) => resolve(d.toString().startsWith('1') ? true : `it said ${JSON.stringify(d.toString().slice(0, 100))}`)));
}
