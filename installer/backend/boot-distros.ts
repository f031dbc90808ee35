import type { WslHost } from '../../wsl-host/host.js';
import type { CliContext } from '../commands/context.js';
import { BERTH_DISTRO, DATA_DISTRO } from '../distro-names.js';

/**
 * Boots Berth's two distros (and WSL's VM before them) while the backend loads. On a cold
 * start the boot (~250 ms on the Linux WSL host) and the backend's own load (~180 ms) came
 * one after the other, and neither needs the other. What the boot finds wrong (a distro not
 * imported yet, on a first enable) is the install check's to find and say, so nothing is said
 * here; a command into a distro that is still booting waits for it (WSL's own behaviour).
 */
export function bootDistrosEarly(wsl: WslHost): void {
  for (const distro of [BERTH_DISTRO, DATA_DISTRO]) void wsl.run(distro, ['true'], { user: 'root' }).catch(() => undefined);
}

/**
 * The CLI's part: the boot starts the moment the CLI has spawned the backend, not once the
 * backend has loaded the CLI's own modules (~150 ms later); started twice, each call into a
 * distro still booting costs the Linux WSL host a Node process of its own, so only the CLI
 * does it. A WSL driver that cannot load is the command's to report, where it uses it.
 */
export function bootWhileBackendLoads(ctx: Pick<CliContext, 'wsl'>): void {
  void ctx.wsl().then(bootDistrosEarly, () => undefined);
}
