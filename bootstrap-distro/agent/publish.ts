import { mkdir, writeFile } from 'node:fs/promises';
import { isMountPoint } from '../../common/mountinfo.js';
import { paths } from './paths.js';
import { mustRun } from '../../common/run-command.js';
import { sharedPath } from '../../common/shared-area.js';

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
 * Publishes the engine's network namespace in the shared area, where the host side of the
 * engine link attaches to it (as vpnkit's peer sits at the VM's network card). Made from
 * this distro's mount namespace, where /mnt/wsl is shared, so the host sees it.
 */
export async function publishEngineNetns(supervisorPid: number): Promise<void> {
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
