import { mountsUnder } from '../../common/mountinfo.js';
import { removeTree } from '../../common/remove-tree.js';
import { paths } from './paths.js';
import { mustRun } from '../../common/run-command.js';

/*
 * The LinuxKit root, as berth-engine-init assembles it inside the engine's fresh namespaces
 * (bootstrap-distro/engine-init/berth-engine-init.c): an overlay of the read-only images
 * under a tmpfs (stateless: a restart gives the same root but /var/lib), the kernel
 * filesystems, the data store at /var/lib, the shared area (slave: it receives mounts made
 * anywhere, and sends none back) and the Windows drives at /mnt/host/<letter>; then the root
 * stacked over "/" of the mount namespace. A process entering the namespace (setns: the
 * services, and runc for `docker exec`) lands on the topmost mount at its root, so that must
 * be the engine's root: merely chrooted there, runc's pivot_root would leave each container
 * below the namespace's root, and `docker exec` would start in the berth distro instead of
 * the container. The supervisor itself keeps the distro's view (its root is the mount below);
 * see enterRootCommand.
 */

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
