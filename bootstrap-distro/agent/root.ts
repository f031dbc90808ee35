import { mountPoints, mountsUnder } from '../../common/mountinfo.js';
import { removeTree } from '../../common/remove-tree.js';
import { paths } from './paths.js';
import { mustRun } from '../../common/run-command.js';

export interface RootLayers {
  /** Unpacked images, top first: the version pack over the system image. */
  lower: string[];
  /** The data store, mounted at /var/lib of the root. */
  dataStore: string;
}

/** Drives the berth distro sees (its /mnt/<letter> mounts), to show at /mnt/host/<letter>. */
async function distroDrives(): Promise<string[]> {
  return (await mountPoints()).filter((m) => /^\/mnt\/[a-z]$/.test(m));
}

/**
 * Builds the LinuxKit root inside the supervisor's fresh namespaces: an overlay of the
 * read-only images under a tmpfs (stateless: a restart gives the same root but /var/lib),
 * the kernel filesystems, the data store, the shared area (slave: it receives mounts made
 * anywhere, and sends none back) and the Windows drives. The supervisor itself keeps the
 * distro's view (its root is the mount below); see enterRootCommand.
 */
export async function assembleRoot(layers: RootLayers): Promise<void> {
  const root = paths.root;
  const q = (p: string) => `'${p.replace(/'/g, "'\\''")}'`;
  const drives = (await distroDrives()).map((d) => {
    const target = `${root}/mnt/host/${d.slice('/mnt/'.length)}`;
    return `mkdir -p ${q(target)} && mount --rbind ${q(d)} ${q(target)}`;
  });
  // One shell for all of it: a spawn per mount would cost more than the mounts.
  const script = [
    'set -e',
    `mkdir -p ${q(paths.rootRw)} ${q(root)}`,
    `mount -t tmpfs -o mode=0755 berth-rw ${q(paths.rootRw)}`,
    `mkdir ${q(`${paths.rootRw}/upper`)} ${q(`${paths.rootRw}/work`)}`,
    `mount -t overlay berth-root -o ${q(`lowerdir=${layers.lower.join(':')},upperdir=${paths.rootRw}/upper,workdir=${paths.rootRw}/work`)} ${q(root)}`,
    `mount -t proc proc ${q(`${root}/proc`)}`,
    `mount -t sysfs sysfs ${q(`${root}/sys`)}`,
    `mount --rbind /sys/fs/cgroup ${q(`${root}/sys/fs/cgroup`)}`,
    `mount -t devtmpfs devtmpfs ${q(`${root}/dev`)}`,
    `mkdir -p ${q(`${root}/dev/pts`)} ${q(`${root}/dev/shm`)}`,
    `mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts ${q(`${root}/dev/pts`)}`,
    `mount --bind ${q(`${root}/dev/pts/ptmx`)} ${q(`${root}/dev/ptmx`)}`,
    `mount -t tmpfs -o mode=1777 shm ${q(`${root}/dev/shm`)}`,
    `mkdir -p ${q(`${root}/var/lib`)} ${q(`${root}/mnt/wsl`)}`,
    `mount --bind ${q(layers.dataStore)} ${q(`${root}/var/lib`)}`,
    `mount --rbind /mnt/wsl ${q(`${root}/mnt/wsl`)}`,
    `mount --make-rslave ${q(`${root}/mnt/wsl`)}`,
    ...drives,
    // Stack the root over "/" of this mount namespace. A process entering the namespace
    // (setns: our services, and runc for `docker exec`) lands on the topmost mount at its
    // root, so that must be the engine's root. Merely chrooted there, runc's pivot_root
    // would leave each container below the namespace's root, and `docker exec` would start
    // in the berth distro instead of the container.
    `mount --rbind ${q(root)} /`,
    'ip link set lo up',
    'hostname berth',
  ].join('\n');
  await mustRun('sh', ['-c', script]);
}

/** Takes the root down; the namespace would drop it anyway, but stop says it did. */
/**
 * Takes the root down: every mount at or below it (the data store, the shared area, the
 * drives, the overlay) and its writable tmpfs, deepest first, each with busybox's `umount -l`
 * (it has no -R), then the emptied directory — never with anything still mounted in it
 * (removeTree checks). Returns what it could not undo; the caller reports it.
 */
export async function dismantleRoot(): Promise<string[]> {
  const problems: string[] = [];
  for (const dir of [paths.root, paths.rootRw]) {
    for (const mount of await mountsUnder(dir)) await mustRun('umount', ['-l', mount]).catch((e: Error) => problems.push(e.message));
  }
  await removeTree(paths.root).catch((e: Error) => problems.push(e.message));
  return problems;
}

/** argv that runs `command` in the LinuxKit root: re-entering our own mount namespace lands on it. */
export function enterRootCommand(command: string[], namespacesOf = 'self', cwd = '/'): string[] {
  return ['nsenter', `--mount=/proc/${namespacesOf}/ns/mnt`, `--wd=${cwd}`, '--', ...command];
}
