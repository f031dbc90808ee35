import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { encodeWslOutput } from '../decode.js';
import { errors, formatError, messages, WSL_ERROR_EXIT, type WslErrorText } from '../messages.js';
import { parseWslArgs, UsageError, type WslCommand } from './args.js';
import { configFromEnv, HostLayout, type HostConfig } from './config.js';
import { DiskManager } from './disk-manager.js';
import { Importer, WslFailure } from './importer.js';
import { formatPlain, formatQuiet, formatVerbose, type ListRow } from './list-format.js';
import { refreshListRecord } from './list-record.js';
import { Registry, findByName, type DistroRecord } from './registry.js';
import { Backoff } from '../../common/backoff.js';
import { withLock } from '../../common/lock.js';
import { sleep, type ProcessIdentity } from '../../common/process.js';
import { DistroRuntime, DistroStartError } from './runtime.js';
import { planSession, PLAN_FILES, readDistroFiles, SessionError, type SessionPlan } from './session.js';
import { fastExecFile, writeFastExec } from './fast-exec.js';
import { fileIdentity } from '../../common/file-identity.js';
import { withExtraCaCertsRestored } from '../../common/extra-ca-env.js';

/** Exit code of berth-init's exec when the distro's init went away before it attached. */
const DISTRO_GONE = 250;
/** What attach answers when it could not enter the distro (as opposed to a command's own 250). */
const NOT_ENTERED = Symbol('not entered');

const HELP = `Usage: berth-wsl [Argument] [Options...] [CommandLine]

A Linux WSL 2 host with wsl.exe's command line. State lives under $BERTH_WSL_ROOT.

Arguments for running Linux binaries:
    --exec, -e <CommandLine>   Execute the command without using the default Linux shell.
    -- <CommandLine>           Pass the remaining command line to the default shell.
    --distribution, -d <Name>  Run the specified distribution.
    --user, -u <UserName>      Run as the specified user.
    --cd <Directory>           Start in the directory (absolute, ~, or C:\\path).

Arguments for managing the host:
    --import <Name> <InstallLocation> <FileName|-> [--version 1|2] [--vhd]
    --import-in-place <Name> <FileName>  Register an ext4 disk image where it lies.
    --unregister <Name>        Unregister the distribution and delete its root filesystem.
    --manage <Name> --set-sparse, -s <true|false>  Give blocks the distro frees back to the host.
    --manage <Name> --resize <Size>                Resize its disk (e.g. 64GB; shrink when stopped).
    --list, -l [--verbose|-v] [--quiet|-q] [--running] [--all]
    --set-default, -s <Name>   Set the distribution as the default.
    --terminate, -t <Name>     Terminate the distribution.
    --shutdown                 Terminate all distributions and the shared VM.
    --help                     Display this usage information.

Environment: BERTH_WSL_ROOT, BERTH_WSL_DRIVES (c=/dir;d=/other), BERTH_WSL_IDLE_TIMEOUT
(seconds, 0 = never), WSL_UTF8=1 for UTF-8 instead of UTF-16LE output.
`;

class WslHostCli {
  private readonly layout: HostLayout;
  private readonly registry: Registry;
  private readonly runtime: DistroRuntime;

  constructor(private readonly config: HostConfig) {
    this.layout = new HostLayout(config.root);
    this.registry = new Registry(this.layout);
    this.runtime = new DistroRuntime(config, this.layout);
  }

  /** Prints text the way wsl.exe prints its own messages: on stdout, UTF-16LE unless WSL_UTF8=1. */
  say(text: string): void {
    if (!text) return; // a quiet list of nothing prints nothing, as wsl.exe's does
    process.stdout.write(encodeWslOutput(text.endsWith('\n') ? text : `${text}\n`, this.config.utf8));
  }

  fail(e: WslErrorText): number {
    this.say(formatError(e));
    return WSL_ERROR_EXIT;
  }

  async run(cmd: WslCommand): Promise<number> {
    // Whatever a killed berth-wsl left half-done is settled before anything looks at the distros.
    if (cmd.kind !== 'help') await new Importer(this.registry, this.runtime).recoverAbandoned();
    switch (cmd.kind) {
      case 'help':
        this.say(HELP);
        return 0;
      case 'import':
        this.say(messages.importInProgress);
        await new Importer(this.registry, this.runtime).import(cmd);
        this.say(messages.ok);
        return 0;
      case 'import-in-place':
        await new DiskManager(this.registry, this.runtime).importInPlace(cmd.name, cmd.file);
        this.say(messages.ok);
        return 0;
      case 'manage':
        await new DiskManager(this.registry, this.runtime).manage(cmd.name, cmd.change);
        this.say(messages.ok);
        return 0;
      case 'unregister':
        this.say(messages.unregistering);
        await new Importer(this.registry, this.runtime).unregister(cmd.name);
        this.say(messages.ok);
        return 0;
      case 'list':
        return this.list(cmd);
      case 'terminate': {
        // No start of it meanwhile: a command that arrives waits, then starts it afresh.
        const distro = await this.installed(cmd.name);
        await this.runtime.withoutStarts(distro, () => this.runtime.terminate(distro));
        this.say(messages.ok);
        return 0;
      }
      case 'shutdown':
        await this.shutdown();
        this.say(messages.ok);
        return 0;
      case 'set-default': {
        const d = await this.installed(cmd.name);
        await this.registry.update((reg) => {
          reg.defaultId = d.id;
        });
        this.say(messages.ok);
        return 0;
      }
      case 'run':
        return this.runInDistro(cmd);
    }
  }

  private async installed(name: string): Promise<DistroRecord> {
    const d = await this.registry.find(name);
    if (!d || d.state !== 'Installed') throw new WslFailure(errors.notFound());
    return d;
  }

  private async list(cmd: Extract<WslCommand, { kind: 'list' }>): Promise<number> {
    // The native entry answers the lists from the record once it is there (list-record.ts);
    // one that cannot be written only means the next list runs here too.
    await refreshListRecord(this.layout, () => this.registry.read()).catch(() => undefined);
    const reg = await this.registry.read();
    let rows: ListRow[] = [];
    for (const d of reg.distros) {
      const running = d.state === 'Installed' && (await this.runtime.running(d)) !== undefined;
      const state = d.state === 'Installed' ? (running ? 'Running' : 'Stopped') : d.state;
      rows.push({ name: d.name, state, version: d.version, isDefault: d.id === reg.defaultId });
    }
    // As wsl.exe's ListDistributionsHelper: -v lists every distro (--running too); the others
    // leave out busy ones unless --all, and say nothing when --quiet finds none.
    if (cmd.verbose) return rows.length ? (this.say(formatVerbose(rows)), 0) : this.fail(errors.noDefault());
    if (cmd.running) rows = rows.filter((r) => r.state === 'Running');
    if (cmd.running && !cmd.quiet && rows.length === 0) {
      this.say(messages.noRunning);
      return WSL_ERROR_EXIT;
    }
    if (!cmd.all) rows = rows.filter((r) => r.state === 'Running' || r.state === 'Stopped');
    if (cmd.quiet) return (this.say(formatQuiet(rows)), 0);
    if (rows.length === 0) return this.fail(errors.noDefault());
    this.say(formatPlain(rows));
    return 0;
  }

  private async shutdown(): Promise<void> {
    const reg = await this.registry.read();
    // A disk's loop device goes only with the VM (the shared area may hold a mount of it).
    await withLock(this.layout.vmLock, async () => {
      for (const d of reg.distros) await this.runtime.terminate(d, { waitForDisk: false });
      await this.runtime.vm.down();
    });
    for (const d of reg.distros) if (d.vhd) await this.runtime.waitForLoopRelease(d);
  }

  private async runInDistro(cmd: Extract<WslCommand, { kind: 'run' }>): Promise<number> {
    const reg = await this.registry.read();
    const distro = cmd.distro ? findByName(reg, cmd.distro) : reg.distros.find((d) => d.id === reg.defaultId);
    if (!distro || distro.state !== 'Installed') return this.fail(cmd.distro ? errors.notFound() : errors.noDefault());
    // The init can end (idle timeout, --terminate, a kill) between starting it and attaching:
    // start again, giving a dying init a moment to be gone.
    const reattach = new Backoff(Backoff.REATTACH);
    for (let attempt = 0; attempt < 20; attempt++) {
      if (attempt > 0) await sleep(reattach.next());
      let init;
      let plan: SessionPlan | undefined;
      try {
        // Started here: the session is planned (and its exec record left) before the start's
        // lock goes, for the native calls waiting on that lock to find the record.
        init = await this.runtime.ensureRunning(distro, async (started) => void (plan = await this.planSession(cmd, distro, started)));
        plan ??= await this.planSession(cmd, distro, init);
        // The native entry asked only for the distro and the record: it runs the command itself.
        if (process.env.BERTH_WSL_PREPARE_EXEC === '1') return 0;
      } catch (e) {
        if (e instanceof DistroStartError) return this.fail(errors.startFailed(e.message));
        if (e instanceof SessionError) {
          process.stderr.write(`${e.message}\n`);
          return 1;
        }
        throw e;
      }
      const code = await this.attach(distro, init, plan);
      if (code !== NOT_ENTERED) return code;
    }
    return this.fail(errors.startFailed('it kept stopping while attaching for 5 s; see its init.log'));
  }

  /** The session the command runs in, and the exec record for the next such call. */
  private async planSession(cmd: Extract<WslCommand, { kind: 'run' }>, distro: DistroRecord, init: ProcessIdentity): Promise<SessionPlan> {
    const distroRoot = `/proc/${init.pid}/root`;
    const recordFile = this.fastExecFileFor(cmd);
    // Identities before contents: a file changed in between makes the record stale, not wrong.
    const identities = recordFile ? await Promise.all(PLAN_FILES.map((f) => fileIdentity(join(distroRoot, f)))) : [];
    const files = await readDistroFiles(distroRoot);
    const plan = planSession({ distroName: distro.name, user: cmd.user, cwd: cmd.cwd, mode: cmd.mode }, files, { cwd: process.cwd(), env: withExtraCaCertsRestored(process.env), drives: this.config.drives });
    if (recordFile) await this.recordFastExec(recordFile, distro, init, plan, identities, files.conf.automount.root);
    return plan;
  }

  /** Where the native entry would look for this request's exec record, if it can have one. */
  private fastExecFileFor(cmd: Extract<WslCommand, { kind: 'run' }>): string | undefined {
    if (cmd.mode.kind !== 'exec' || cmd.cwd !== undefined || process.env.WSLENV || process.env.BERTH_WSL_INIT) return undefined;
    return fastExecFile(this.layout.fastExecDir, cmd);
  }

  /** Leaves the exec record so the next such call needs no Node (see fast-exec.ts). */
  private async recordFastExec(file: string, distro: DistroRecord, init: ProcessIdentity, plan: SessionPlan, fileIdentities: string[], automountRoot: string): Promise<void> {
    const nat = distro.version === 2 ? await this.runtime.vm.natIdentity() : undefined;
    if (distro.version === 2 && !nat) return;
    const facts = { init, nat, attachLock: this.runtime.attachLock(distro), plan, fileIdentities, drivesEnv: process.env.BERTH_WSL_DRIVES, drives: this.config.drives, automountRoot };
    // Only an optimisation: without the record the next call takes this path again.
    await writeFastExec(file, facts).catch(() => undefined);
  }

  /** Runs the plan through berth-init, with this process's stdio, forwarding signals. */
  private attach(distro: DistroRecord, init: { pid: number; startTime: string }, plan: SessionPlan): Promise<number | typeof NOT_ENTERED> {
    const args = [
      'exec',
      '--pid',
      String(init.pid),
      '--start-time',
      init.startTime,
      '--lock',
      this.runtime.attachLock(distro),
      '--uid',
      String(plan.user.uid),
      '--gid',
      String(plan.user.gid),
      '--groups',
      plan.user.groups.join(','),
      '--cwd',
      plan.cwd,
      '--entered-fd',
      '3',
      '--',
      ...plan.argv,
    ];
    const child = spawn(this.config.initBinary, args, { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], env: plan.env });
    let entered = false;
    child.stdio[3]!.on('data', () => (entered = true));
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];
    const handlers = signals.map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    return new Promise((resolve) => {
      child.on('error', (e) => {
        process.stderr.write(`berth-wsl: cannot run ${this.config.initBinary}: ${e.message}; run npm run build\n`);
        resolve(1);
      });
      child.on('close', (code, signal) => {
        for (const [s, h] of handlers) process.off(s, h);
        resolve(code === DISTRO_GONE && !entered ? NOT_ENTERED : (code ?? 128 + (signal ? signalNumber(signal) : 0)));
      });
    });
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 0;
}

export async function main(argv: string[]): Promise<number> {
  let config: HostConfig;
  try {
    config = configFromEnv();
  } catch (e) {
    process.stderr.write(`berth-wsl: ${(e as Error).message}\n`);
    return 2;
  }
  const cli = new WslHostCli(config);
  try {
    return await cli.run(parseWslArgs(argv));
  } catch (e) {
    if (e instanceof UsageError) return cli.fail(errors.invalidArgument(e.argument));
    if (e instanceof WslFailure) return cli.fail(e.wsl);
    if (process.getuid?.() !== 0) {
      process.stderr.write('berth-wsl: the Linux WSL host needs root (namespaces, mounts); run it as root.\n');
    }
    return cli.fail({ text: (e as Error).message, code: 'Wsl/Service/E_UNEXPECTED' });
  }
}
