import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostConfig, HostLayout } from './config.js';
import { withLock } from '../../common/lock.js';
import { isMountPoint, mountsUnder } from '../../common/mountinfo.js';
import { liveStartTime, type ProcessIdentity } from '../../common/process.js';
import { mustRun, runCommand } from './run-command.js';
import { natRunning, startNat, stopNat } from './vm-nat.js';

/**
 * The utility VM: one network namespace and one mount namespace (a private copy of the
 * host's), persisted as nsfs files under run/vm, plus the shared area that becomes
 * /mnt/wsl. No process holds them; --shutdown drops them.
 */
export class UtilityVm {
  constructor(
    private readonly config: HostConfig,
    private readonly layout: HostLayout,
  ) {}

  async isUp(): Promise<boolean> {
    return (await isMountPoint(this.layout.vmNet)) && (await isMountPoint(this.layout.vmMnt));
  }

  /**
   * Always under the VM lock, which `--shutdown` holds from the first terminate to the VM's
   * end: a distro started meanwhile (a manager restarting its engine) waits for the new VM
   * rather than joining the old one as it goes (its /mnt/wsl would be gone for the host).
   */
  async ensureUp(): Promise<void> {
    await withLock(this.layout.vmLock, async () => {
      if (await this.isUp()) return;
      // One more try after a clean slate: CI once saw the kernel refuse the namespace's bind
      // mount (EINVAL) on a fresh world, and a second attempt is what `wsl --shutdown` and a
      // retry would do by hand.
      try {
        await this.createNamespaces();
      } catch (first) {
        await this.down();
        try {
          await this.createNamespaces();
        } catch (second) {
          await this.down();
          throw new Error(`${(second as Error).message} (a first try before it: ${(first as Error).message})`, { cause: second });
        }
      }
      try {
        await startNat(this.layout.vmNet, this.natPidFile);
      } catch (e) {
        await this.down();
        throw e;
      }
    });
  }

  /** The VM's namespaces, persisted as nsfs files; a half-made VM (one of the two files) is dropped first. */
  private async createNamespaces(): Promise<void> {
    const { vmNet, vmMnt } = this.layout;
    if ((await isMountPoint(vmNet)) || (await isMountPoint(vmMnt))) await this.down();
    await this.prepareRunDir();
    await writeFile(vmNet, '', { mode: 0o600 });
    await writeFile(vmMnt, '', { mode: 0o600 });
    const r = await runCommand(
      'unshare',
      [`--net=${vmNet}`, `--mount=${vmMnt}`, '--propagation', 'unchanged', '--', 'sh', join(this.config.scriptsDir, 'vm-setup.sh')],
      { env: { ...process.env, BERTH_INIT: this.config.initBinary, BERTH_SHARED: this.layout.sharedArea } },
    );
    if (r.exitCode !== 0) throw new Error(`starting the WSL utility VM failed: ${r.stderr || r.stdout}`);
  }

  /** run/ is a private mount (nsfs files may only live on one) and run/wsl a shared tmpfs. */
  private async prepareRunDir(): Promise<void> {
    const { runDir, vmDir, sharedArea } = this.layout;
    await mkdir(runDir, { recursive: true });
    if (!(await isMountPoint(runDir))) await mustRun('mount', ['--bind', runDir, runDir]);
    // Every time, not only when the bind is new: a mount that reached us by propagation is
    // not private, and an nsfs bind on a shared mount fails with EINVAL.
    await mustRun('mount', ['--make-private', runDir]);
    await mkdir(vmDir, { recursive: true });
    await mkdir(sharedArea, { recursive: true });
    if (!(await isMountPoint(sharedArea))) {
      await mustRun('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'berth-wsl-shared', sharedArea]);
      await mustRun('mount', ['--make-shared', sharedArea]);
    }
  }

  /** WSL's NAT cannot die; ours can (a kill -9 of everything): bring it back when a distro is used. */
  async ensureNat(): Promise<void> {
    // On every exec: the cheap check first (two small reads), the mount table only if needed.
    if ((await natRunning(this.natPidFile)) || !(await this.isUp())) return;
    await withLock(this.layout.vmLock, async () => {
      // Under the lock the VM may have gone meanwhile (a --shutdown): then there is no NAT to restart.
      if (!(await natRunning(this.natPidFile)) && (await this.isUp())) await startNat(this.layout.vmNet, this.natPidFile);
    });
  }

  /** The running NAT helper, as the native --exec checks it is still the same one. */
  async natIdentity(): Promise<ProcessIdentity | undefined> {
    if (!(await natRunning(this.natPidFile))) return undefined;
    const pid = Number((await readFile(this.natPidFile, 'utf8')).trim());
    const startTime = await liveStartTime(pid);
    return startTime ? { pid, startTime } : undefined;
  }

  private get natPidFile(): string {
    return join(this.layout.vmDir, 'nat.pid');
  }

  /** Drops the VM: its NAT link, the shared area and everything mounted in it, the namespaces, run/. */
  async down(): Promise<void> {
    await stopNat(this.natPidFile);
    for (const target of await mountsUnder(this.layout.runDir)) {
      await runCommand('umount', ['-l', target]);
    }
    const left = await mountsUnder(this.layout.runDir);
    // Never delete through a mount: it could be a distro's data.
    if (left.length > 0) throw new Error(`cannot unmount ${left.join(', ')}; unmount it by hand and run --shutdown again`);
    await rm(this.layout.runDir, { recursive: true, force: true });
  }
}
