import type { WslHost } from '../wsl-host/host.js';
import { DATA_DISTRO } from './layout.js';
import { DATA_STORE_ROOT, sharedPath } from '../common/shared-area.js';

export const DATA_MOUNT = sharedPath('dataStore');
const STORE = DATA_STORE_ROOT;

/**
 * The cross-distro mount: berth-data bind-mounts its store under /mnt/wsl, where the berth
 * distro's agent finds it. A mount left from an earlier run (say, of a since re-imported
 * berth-data) is unmounted first, so the agent always gets the store berth-data holds now.
 */
export async function mountDataStore(wsl: WslHost): Promise<void> {
  const script = [
    'set -e',
    `mkdir -p ${DATA_MOUNT}`,
    `while grep -q " ${DATA_MOUNT} " /proc/mounts; do umount -l ${DATA_MOUNT}; done`,
    // Root only (also for stores made by an older Berth): every distro sees the mount.
    `chmod 0700 ${STORE}`,
    `mkdir -p ${STORE}/log && chmod 0700 ${STORE}/log`,
    `mount --bind ${STORE} ${DATA_MOUNT}`,
  ].join('\n');
  const r = await wsl.run(DATA_DISTRO, ['sh', '-c', script], { user: 'root' });
  if (r.exitCode !== 0) throw new Error(`mounting berth-data's store at ${DATA_MOUNT} failed: ${r.stderr.trim() || r.stdout.trim()}`);
}

export async function unmountDataStore(wsl: WslHost): Promise<void> {
  await wsl.run(DATA_DISTRO, ['sh', '-c', `while grep -q " ${DATA_MOUNT} " /proc/mounts; do umount -l ${DATA_MOUNT}; done`], { user: 'root' });
}
