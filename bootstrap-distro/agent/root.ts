import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { paths } from './paths.js';
import { sh } from './run.js';

export interface RootLayers {
  /** Unpacked images, top first: the version pack over the system image. */
  lower: string[];
  /** The data store, mounted at /var/lib of the root. */
  dataStore: string;
}

/** Drives the berth distro sees (its /mnt/<letter> mounts), to show at /mnt/host/<letter>. */
async function distroDrives(): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => /^\/mnt\/[a-z]$/.test(m));
}

/**
 * Builds the LinuxKit root inside the supervisor's fresh namespaces: an overlay of the
 * read-only images under a tmpfs (stateless: a restart gives the same root but /var/lib),
 * the kernel filesystems, the data store, the shared area (slave: it receives mounts made
 * anywhere, and sends none back) and the Windows drives.
 */
export async function assembleRoot(layers: RootLayers): Promise<void> {
  const root = paths.root;
  await mkdir(paths.rootRw, { recursive: true });
  await sh('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'berth-rw', paths.rootRw]);
  await mkdir(join(paths.rootRw, 'upper'));
  await mkdir(join(paths.rootRw, 'work'));
  await mkdir(root, { recursive: true });
  await sh('mount', ['-t', 'overlay', 'berth-root', '-o', `lowerdir=${layers.lower.join(':')},upperdir=${paths.rootRw}/upper,workdir=${paths.rootRw}/work`, root]);

  await sh('mount', ['-t', 'proc', 'proc', `${root}/proc`]);
  await sh('mount', ['-t', 'sysfs', 'sysfs', `${root}/sys`]);
  await sh('mount', ['--rbind', '/sys/fs/cgroup', `${root}/sys/fs/cgroup`]);
  await sh('mount', ['-t', 'devtmpfs', 'devtmpfs', `${root}/dev`]);
  await mkdir(`${root}/dev/pts`, { recursive: true });
  await mkdir(`${root}/dev/shm`, { recursive: true });
  await sh('mount', ['-t', 'devpts', '-o', 'newinstance,ptmxmode=0666,mode=0620', 'devpts', `${root}/dev/pts`]);
  await sh('mount', ['--bind', `${root}/dev/pts/ptmx`, `${root}/dev/ptmx`]);
  await sh('mount', ['-t', 'tmpfs', '-o', 'mode=1777', 'shm', `${root}/dev/shm`]);

  await mkdir(`${root}/var/lib`, { recursive: true });
  await sh('mount', ['--bind', layers.dataStore, `${root}/var/lib`]);
  await mkdir(`${root}/mnt/wsl`, { recursive: true });
  await sh('mount', ['--rbind', '/mnt/wsl', `${root}/mnt/wsl`]);
  await sh('mount', ['--make-rslave', `${root}/mnt/wsl`]);
  for (const drive of await distroDrives()) {
    const target = `${root}/mnt/host/${drive.slice('/mnt/'.length)}`;
    await mkdir(target, { recursive: true });
    await sh('mount', ['--rbind', drive, target]);
  }
  await sh('ip', ['link', 'set', 'lo', 'up']);
  await sh('hostname', ['berth']);
}

/** Takes the root down; the namespace would drop it anyway, but stop says it did. */
export async function dismantleRoot(): Promise<void> {
  await sh('umount', ['-R', '-l', paths.root]).catch(() => {});
  await sh('umount', ['-l', paths.rootRw]).catch(() => {});
  await rm(paths.root, { recursive: true, force: true }).catch(() => {});
}
