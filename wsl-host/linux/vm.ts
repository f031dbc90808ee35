import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostConfig, HostLayout } from './config.js';
import { withLock } from '../../common/lock.js';
import { isMountPoint, mountsUnder } from '../../common/mountinfo.js';
import { liveStartTime, type ProcessIdentity } from '../../common/process.js';
import { CPU_NOT_ALLOWED, onlineCpus } from './cpu-affinity.js';
import { mustRun, runCommand } from '../../common/run-command.js';
import { natRunning, startNat, stopNat, type NatFiles } from './vm-nat.js';
import { removeTree } from '../../common/remove-tree.js';

/** unshare's words when the kernel refuses the bind of a new mount namespace's nsfs file. */
const NAMESPACE_LOOP_REFUSAL = /ns\/mnt on .* failed: Invalid argument/;

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
      await this.createNamespacesOnSomeCpu();
      try {
        await startNat(this.nat);
      } catch (e) {
        await this.down();
        throw e;
      }
    });
  }

  /**
   * Linux 6.18 numbers namespaces from per-CPU batches, so a namespace made now on one CPU can
   * get a lower number than an older one made on another; and the kernel refuses (EINVAL) to
   * bind a mount namespace whose number is not above the binder's own (its loop check). Run from
   * the machine's first mount namespace (number 1) this never happens; run from a namespace of
   * its own (a container, a test's private mounts) it does, depending on the CPU. The CPU that
   * made the caller's namespace numbers higher than it did, so one of the CPUs works.
   */
  private async createNamespacesOnSomeCpu(): Promise<void> {
    const refusals: string[] = [];
    let last: unknown;
    for (const cpu of [undefined, ...(await onlineCpus())]) {
      try {
        await this.createNamespaces(cpu);
        return;
      } catch (e) {
        await this.down();
        const message = (e as Error).message;
        if (cpu !== undefined && CPU_NOT_ALLOWED.test(message)) continue; // outside our cpuset
        if (!NAMESPACE_LOOP_REFUSAL.test(message)) throw e;
        refusals.push(cpu === undefined ? 'unpinned' : `CPU ${cpu}`);
        last = e;
      }
    }
    throw new Error(
      `starting the WSL utility VM failed: the kernel refused to keep its mount namespace (EINVAL from its namespace-loop check) on every CPU tried (${refusals.join(', ')}). ` +
        "This happens when berth-wsl runs inside a mount namespace of its own; run it from the machine's first mount namespace.",
      { cause: last },
    );
  }

  /** The VM's namespaces, persisted as nsfs files; made on `cpu` when given. A half-made VM (one of the two files) is dropped first. */
  private async createNamespaces(cpu?: number): Promise<void> {
    const { vmNet, vmMnt } = this.layout;
    if ((await isMountPoint(vmNet)) || (await isMountPoint(vmMnt))) await this.down();
    await this.prepareRunDir();
    await writeFile(vmNet, '', { mode: 0o600 });
    await writeFile(vmMnt, '', { mode: 0o600 });
    const unshare = ['unshare', `--net=${vmNet}`, `--mount=${vmMnt}`, '--propagation', 'unchanged', '--', 'sh', join(this.config.scriptsDir, 'vm-setup.sh')];
    const [file, ...args] = cpu === undefined ? unshare : ['taskset', '--cpu-list', String(cpu), ...unshare];
    const r = await runCommand(file!, args, { env: { ...process.env, BERTH_INIT: this.config.initBinary, BERTH_SHARED: this.layout.sharedArea } });
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
    if ((await natRunning(this.nat)) || !(await this.isUp())) return;
    await withLock(this.layout.vmLock, async () => {
      // Under the lock the VM may have gone meanwhile (a --shutdown): then there is no NAT to restart.
      if (!(await natRunning(this.nat)) && (await this.isUp())) await startNat(this.nat);
    });
  }

  /** The running NAT helper, as the native --exec checks it is still the same one. */
  async natIdentity(): Promise<ProcessIdentity | undefined> {
    if (!(await natRunning(this.nat))) return undefined;
    const pid = Number((await readFile(this.nat.pidFile, 'utf8')).trim());
    const startTime = await liveStartTime(pid);
    return startTime ? { pid, startTime } : undefined;
  }

  private get nat(): NatFiles {
    return { netns: this.layout.vmNet, pidFile: join(this.layout.vmDir, 'nat.pid'), logFile: join(this.layout.vmDir, 'nat.log') };
  }

  /** Drops the VM: its NAT link, the shared area and everything mounted in it, the namespaces, run/. */
  async down(): Promise<void> {
    await stopNat(this.nat);
    for (const target of await mountsUnder(this.layout.runDir)) {
      await runCommand('umount', ['-l', target]);
    }
    const left = await mountsUnder(this.layout.runDir);
    // Never delete through a mount: it could be a distro's data.
    if (left.length > 0) throw new Error(`cannot unmount ${left.join(', ')}; unmount it by hand and run --shutdown again`);
    await removeTree(this.layout.runDir);
  }
}
