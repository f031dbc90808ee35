import { mkdir, readlink, writeFile } from 'node:fs/promises';
import { isMountPoint } from '../../common/mountinfo.js';
import { paths } from './paths.js';
import { mustRun } from '../../common/run-command.js';
import { sharedPath } from '../../common/shared-area.js';
import { waitFor } from '../../common/process.js';

/** Berth's tools for user distros (node, the proxy, busybox, the docker wrapper): /opt/berth. */
export const TOOLS = sharedPath('tools');
/** The version pack (the docker CLI and its libraries) as the wrapper expects it. */
export const VERSION_PACK = sharedPath('versionPack');

/**
 * Publishes the tools and the version pack read-only in the shared area, from the berth
 * distro's own mount namespace, so the mounts appear in every distro.
 */
export async function publishTools(versionPackDir: string): Promise<void> {
  for (const [source, target] of [
    ['/opt/berth', TOOLS],
    [versionPackDir, VERSION_PACK],
  ] as const) {
    if (await isMountPoint(target)) await mustRun('umount', ['-l', target]);
    await mkdir(target, { recursive: true });
    await mustRun('mount', ['--bind', source, target]);
    await mustRun('mount', ['-o', 'remount,bind,ro', target]);
  }
}

/**
 * publishEngineNetns as soon as berth-engine-init (`pid`, this distro's side of it) has made
 * the engine's namespaces (its ns/net is no longer ours): it then overlaps dockerd's start
 * instead of following it. Rejects if that process ends first or takes longer than `timeoutMs`.
 */
export async function publishEngineNetnsOnceMade(pid: number, timeoutMs = 5000): Promise<void> {
  const own = await readlink('/proc/self/ns/net');
  const made = await waitFor(
    async () =>
      (await readlink(`/proc/${pid}/ns/net`).catch((e: Error) => {
        throw new Error(`berth-engine-init (pid ${pid}) ended before it made the engine's namespaces`, { cause: e });
      })) !== own,
    timeoutMs,
    1,
  );
  if (!made) throw new Error(`berth-engine-init (pid ${pid}) did not make the engine's network namespace within ${timeoutMs} ms`);
  await publishEngineNetns(pid);
}

/**
 * Publishes the engine's network namespace in the shared area, where the host side of the
 * engine link attaches to it (as vpnkit's peer sits at the VM's network card). Made from
 * this distro's mount namespace, where /mnt/wsl is shared, so the host sees it.
 */
async function publishEngineNetns(supervisorPid: number): Promise<void> {
  const target = paths.engineNetns;
  while (await isMountPoint(target)) await mustRun('umount', ['-l', target]);
  await writeFile(target, '', { mode: 0o600 });
  await mustRun('mount', ['--bind', `/proc/${supervisorPid}/ns/net`, target]);
}

export async function unpublishTools(): Promise<void> {
  for (const target of [TOOLS, VERSION_PACK, paths.engineNetns]) {
    while (await isMountPoint(target)) await mustRun('umount', ['-l', target]);
  }
}
