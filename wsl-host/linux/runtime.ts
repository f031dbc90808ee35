import { lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file.js';
import type { HostConfig, HostLayout } from './config.js';
import { withLock } from '../../common/lock.js';
import { isAlive, liveStartTime, waitFor, type ProcessIdentity } from '../../common/process.js';
import type { DistroRecord } from './registry.js';
import { runCommand } from '../../common/run-command.js';
import { UtilityVm } from './vm.js';
import { DEFAULT_WSL_CONF, parseWslConf, type WslConf } from '../../common/wsl-conf.js';
import { generatedResolvConf } from './vm-nat.js';
import { generatedHosts } from './generated-hosts.js';
import { encodeInitId } from './list-record.js';
import { dropFastExecRecords } from './fast-exec.js';

export class DistroStartError extends Error {}

/** Starts, finds and terminates a distro's init (the process holding its namespaces). */
export class DistroRuntime {
  readonly vm: UtilityVm;

  constructor(
    private readonly config: HostConfig,
    private readonly layout: HostLayout,
  ) {
    this.vm = new UtilityVm(config, layout);
  }

  rootfsPath(d: DistroRecord): string {
    return d.vhd ? (d.vhdPath ?? join(d.basePath, 'ext4.vhdx')) : join(d.basePath, 'rootfs');
  }

  private initFile(d: DistroRecord) {
    return join(this.layout.distroRunDir(d.id), 'init.json');
  }

  attachLock(d: DistroRecord) {
    return join(this.layout.distroRunDir(d.id), 'attach.lock');
  }

  /** The running init, or undefined when the distro is stopped. */
  async running(d: DistroRecord): Promise<ProcessIdentity | undefined> {
    try {
      const init = JSON.parse(await readFile(this.initFile(d), 'utf8')) as ProcessIdentity;
      return (await isAlive(init)) ? init : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Runs fn while no start of the distro can begin: the lock ensureRunning takes. A disk
   * checked idle stays idle for fn (WSL attaches a VHD to one user at a time).
   */
  async withoutStarts<T>(d: DistroRecord, fn: () => Promise<T>): Promise<T> {
    return withLock(this.layout.distroLock(d.id), fn);
  }

  /**
   * Starts the distro unless it runs; concurrent callers share one init. `whileStarting`
   * runs in the caller that started it, after the start and still under the start's lock:
   * the native entry waits out that lock (wsl-entry.c), so what is done here is there then.
   */
  async ensureRunning(d: DistroRecord, whileStarting?: (init: ProcessIdentity) => Promise<void>): Promise<ProcessIdentity> {
    const already = await this.running(d);
    if (already) {
      if (d.version === 2) await this.vm.ensureNat();
      return already;
    }
    return withLock(this.layout.distroLock(d.id), async () => {
      const running = await this.running(d);
      if (running) return running;
      const init = await this.start(d);
      await whileStarting?.(init);
      return init;
    });
  }

  private async start(d: DistroRecord): Promise<ProcessIdentity> {
    await this.vm.ensureUp();
    const runDir = this.layout.distroRunDir(d.id);
    await mkdir(runDir, { recursive: true });
    const conf = await this.readWslConf(d);
    const hostsFile = join(runDir, 'hosts');
    if (conf.network.generateHosts) await writeFileAtomic(hostsFile, generatedHosts(hostnameFor(d.name), await readFile('/etc/hosts', 'utf8').catch(() => '')), 0o644);
    const env = {
      BERTH_INIT: this.config.initBinary,
      BERTH_MOUNTPOINT: join(runDir, 'root'),
      BERTH_ROOTFS: this.rootfsPath(d),
      BERTH_VHD: d.vhd ? '1' : '0',
      BERTH_WSL2: d.version === 2 ? '1' : '0',
      BERTH_SHARED: this.layout.sharedArea,
      BERTH_AUTOMOUNT: conf.automount.enabled ? '1' : '0',
      BERTH_AUTOMOUNT_ROOT: conf.automount.root,
      BERTH_HOSTNAME: hostnameFor(d.name),
      BERTH_LOCK: this.attachLock(d),
      BERTH_LOG: join(runDir, 'init.log'),
      BERTH_IDLE: String(this.config.idleTimeout),
      BERTH_BOOT_COMMAND: conf.boot.command ?? '',
      BERTH_RESOLV_CONF: d.version === 2 && conf.network.generateResolvConf ? generatedResolvConf() : '',
      BERTH_HOSTS_FILE: conf.network.generateHosts ? hostsFile : '',
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    };
    for (const drive of this.config.drives) await mkdir(drive.hostPath, { recursive: true });
    // A WSL 1 distro shares the host's network, as WSL 1 shares Windows'.
    const net = d.version === 2 ? this.layout.vmNet : '/proc/self/ns/net';
    const r = await runCommand(
      this.config.initBinary,
      ['start', '--vm-net', net, '--vm-mnt', this.layout.vmMnt, '--', 'sh', join(this.config.scriptsDir, 'distro-setup.sh'), ...this.config.drives.flatMap((x) => [x.letter, x.hostPath])],
      { env },
    );
    const pid = Number(r.stdout.trim());
    if (r.exitCode !== 0 || !Number.isInteger(pid) || pid <= 0) {
      throw new DistroStartError(`${(r.stderr || r.stdout || `exit ${r.exitCode}`).trim()}`);
    }
    const startTime = await liveStartTime(pid);
    if (!startTime) throw new DistroStartError(`its init (pid ${pid}) exited right after starting; see ${env.BERTH_LOG}`);
    const init = { pid, startTime };
    // init.id first: the native -l -v takes init.json without it for an init it cannot judge.
    await writeFileAtomic(this.layout.initIdFile(d.id), encodeInitId(init), 0o600);
    await writeFileAtomic(this.initFile(d), JSON.stringify(init));
    return init;
  }

  /** wsl.conf decides mounts before the distro runs, so it is read from the disk itself. */
  private async readWslConf(d: DistroRecord): Promise<WslConf> {
    try {
      if (d.vhd) {
        const r = await runCommand('debugfs', ['-R', 'cat /etc/wsl.conf', this.rootfsPath(d)]);
        return r.exitCode === 0 && r.stdout ? parseWslConf(r.stdout) : DEFAULT_WSL_CONF;
      }
      const path = join(this.rootfsPath(d), 'etc/wsl.conf');
      // A symlink would be resolved on the host, not in the distro: ignore it rather than read the host's file.
      if (!(await lstat(path)).isFile()) return DEFAULT_WSL_CONF;
      return parseWslConf(await readFile(path, 'utf8'));
    } catch {
      return DEFAULT_WSL_CONF;
    }
  }

  /** Ends every process of the distro and, with them, its mounts and loop device. */
  async terminate(d: DistroRecord, options: { waitForDisk?: boolean } = {}): Promise<void> {
    const init = await this.running(d);
    // Forgotten before it is signalled: a command that arrives meanwhile then starts the
    // distro afresh (waiting on the locks a start takes) instead of joining an init on its
    // way out, where it would be killed with the rest.
    await this.forget(d);
    if (init) {
      signal(init.pid, 'SIGTERM');
      if (!(await waitFor(async () => !(await isAlive(init)), 10_000))) {
        signal(init.pid, 'SIGKILL');
        await waitFor(async () => !(await isAlive(init)), 5_000);
      }
    }
    if (d.vhd && options.waitForDisk !== false) await this.waitForLoopRelease(d);
  }

  /** The records that say the distro runs: its init's, and the native entry's exec records. */
  private async forget(d: DistroRecord): Promise<void> {
    await rm(this.layout.initIdFile(d.id), { force: true });
    await rm(this.initFile(d), { force: true });
    await dropFastExecRecords(this.layout.fastExecDir);
  }

  /** The loop device clears itself once the last mount of the image is gone. */
  async waitForLoopRelease(d: DistroRecord): Promise<void> {
    const image = this.rootfsPath(d);
    await waitFor(
      async () => {
        const r = await runCommand('losetup', ['-j', image]);
        return r.stdout.trim() === '';
      },
      10_000,
      50,
    );
  }
}

/** WSL names the host after the distro; a hostname allows letters, digits and '-'. */
export function hostnameFor(name: string): string {
  return name.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 63) || 'localhost';
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
