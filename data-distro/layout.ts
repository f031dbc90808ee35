import { DATA_STORE_ROOT } from '../common/shared-area.js';

/**
 * berth-data: the distro that holds everything the engine keeps (images, containers,
 * volumes, build cache, persisted logs, Berth's daemon.json and CA bundle). Its layout is
 * defined here; the image builder stages it and the agent mounts the store at /var/lib of
 * the LinuxKit root.
 */
export const DATA_DISTRO = 'berth-data';

/** The store inside berth-data (no leading slash: a path in the image). */
export const DATA_STORE = DATA_STORE_ROOT.slice(1);

/** The store's directories and their modes: root only, as the store is mounted where every distro sees it. */
export const STORE_DIRS: ReadonlyArray<{ path: string; mode: number }> = [
  { path: DATA_STORE, mode: 0o700 },
  { path: `${DATA_STORE}/docker`, mode: 0o710 },
  { path: `${DATA_STORE}/containerd`, mode: 0o755 },
  { path: `${DATA_STORE}/log`, mode: 0o700 },
];

/** berth-data's own files: no drives, root as its user. */
export const DATA_DISTRO_FILES: Readonly<Record<string, string>> = {
  'etc/wsl.conf': '[automount]\nenabled = false\n[user]\ndefault = root\n',
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
  'etc/group': 'root:x:0:\n',
};

/** The disk image's file name inside its directory, as `wsl --import` names it. */
export const DISK_FILE = 'ext4.vhdx';
