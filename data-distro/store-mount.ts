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

/** Every mount of the store at the shared area undone (a few tries: it may be stacked); rejects if one stays. */
export async function unmountDataStore(wsl: WslHost): Promise<void> {
  const script = `for i in 1 2 3 4 5 6 7 8; do grep -q " ${DATA_MOUNT} " /proc/mounts || exit 0; umount -l ${DATA_MOUNT}; done; ! grep -q " ${DATA_MOUNT} " /proc/mounts`;
  const r = await wsl.run(DATA_DISTRO, ['sh', '-c', script], { user: 'root' });
  if (r.exitCode !== 0) throw new Error(`${DATA_MOUNT} is still mounted after 8 unmounts${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`);
}
