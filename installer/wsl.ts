import { join } from 'node:path';
import { CommandWslHost } from '../wsl-host/command-host.js';
import type { WslHost } from '../wsl-host/host.js';
import { BERTH_REPO } from './repo.js';
import { AGENT_COMMAND } from '../common/shared-area.js';
import { HostLayout, wslRootFromEnv } from '../wsl-host/linux/config.js';

/**
 * The WSL the manager drives: wsl.exe on Windows; on Linux $BERTH_WSL or the checkout's
 * bin/berth-wsl, which sees the shared area under $BERTH_WSL_ROOT/run/wsl directly.
 */
export function wslFromEnv(env: NodeJS.ProcessEnv = process.env): WslHost {
  if (process.platform === 'win32') {
    return new CommandWslHost({ command: env.BERTH_WSL ?? 'wsl.exe', relayCommand: [AGENT_COMMAND, 'relay'] });
  }
  const wslRoot = wslRootFromEnv(env);
  return new CommandWslHost({
    command: env.BERTH_WSL ?? join(BERTH_REPO, 'bin/berth-wsl'),
    env: { BERTH_WSL_ROOT: wslRoot },
    sharedAreaPath: new HostLayout(wslRoot).sharedArea,
  });
}

/** Where the host itself sees the distros' /mnt/wsl, when it can (the Linux WSL host). */
export function sharedAreaOnHost(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.platform === 'win32') return undefined;
  return new HostLayout(wslRootFromEnv(env)).sharedArea;
}
