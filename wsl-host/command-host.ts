import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type Duplex, PassThrough, type Readable } from 'node:stream';
import { spawnWsl } from './wsl-process.js';
import { decodeWslOutput } from './decode.js';
import { WslError } from './errors.js';
import type { DistroInfo, ExecOptions, ExecResult, ImportOptions, WslHost, WslProcess } from './host.js';
import { errorCodeOf, errorFromOutput, parseListVerbose, parseNames, saysNoDistributions } from './parse.js';
import { connectDirect, connectRelay, sharedAreaHostPath } from './connect.js';

/** wsl.exe itself fails with -1: 255 on Linux, 4294967295 or -1 through Windows' exit codes. */
const WSL_OWN_FAILURE = new Set([255, -1, 4294967295]);

export interface CommandHostOptions {
  /** The program with wsl.exe's command line: `wsl.exe`, or the checkout's bin/berth-wsl. */
  command: string;
  /** Environment for every call (e.g. BERTH_WSL_ROOT); WSL_UTF8=1 is always added. */
  env?: Record<string, string | undefined>;
  /**
   * Where the host sees the distros' /mnt/wsl, if it can (the Linux WSL host: its root's
   * run/wsl). Given, connect() opens sockets directly; otherwise it relays through `--exec`.
   */
  sharedAreaPath?: string;
  /** Program in the distro that copies stdin/stdout to a Unix socket (its path is appended). */
  relayCommand?: string[];
}

/** Drives wsl.exe, or a program with its command line, through execa. */
export class CommandWslHost implements WslHost {
  constructor(private readonly options: CommandHostOptions) {}

  async list(): Promise<DistroInfo[]> {
    const [verbose, runningText] = await Promise.all([this.call(['--list', '--verbose'], { allowNoDistros: true }), this.call(['--list', '--running', '--quiet'], { allowNoDistros: true })]);
    if (verbose === undefined) return [];
    const running = new Set(parseNames(runningText ?? '').map((n) => n.toLowerCase()));
    return parseListVerbose(verbose).map(({ busy, ...d }) => ({
      ...d,
      state: busy ?? (running.has(d.name.toLowerCase()) ? 'Running' : 'Stopped'),
    }));
  }

  async import(name: string, installDir: string, source: string | Readable, options: ImportOptions = {}): Promise<void> {
    if (options.vhd) {
      // wsl.exe reads a disk image itself (it cannot come through standard input).
      if (typeof source !== 'string') throw new WslError('failed', 'a disk image is imported from a file, not a stream');
      await this.call(['--import', name, installDir, source, '--version', String(options.version ?? 2), '--vhd']);
      const size = (await stat(source)).size;
      options.onProgress?.(size, size);
      return;
    }
    const args = ['--import', name, installDir, '-', '--version', String(options.version ?? 2)];
    let total: number | undefined;
    let input: Readable;
    if (typeof source === 'string') {
      total = (
        await stat(source).catch(() => {
          throw new WslError('failed', `The system cannot find the file specified: ${source}`);
        })
      ).size;
      input = createReadStream(source);
    } else {
      input = source;
    }
    let done = 0;
    const counter = new PassThrough();
    counter.on('data', (chunk: Buffer) => {
      done += chunk.length;
      options.onProgress?.(done, total);
    });
    input.on('error', (e) => counter.destroy(e));
    input.pipe(counter);
    await this.call(args, { input: counter });
  }

  async importInPlace(name: string, file: string): Promise<void> {
    await this.call(['--import-in-place', name, file]);
  }

  async resizeDisk(name: string, bytes: number): Promise<void> {
    if (bytes <= 0 || bytes % 2 ** 20 !== 0) throw new WslError('failed', `a disk size must be a whole number of MiB, not ${bytes} bytes`);
    await this.call(['--manage', name, '--resize', `${bytes / 2 ** 20}MB`]);
  }

  async setSparse(name: string, sparse: boolean): Promise<void> {
    await this.call(['--manage', name, '--set-sparse', String(sparse)]);
  }

  async unregister(name: string): Promise<void> {
    await this.call(['--unregister', name]);
  }

  async terminate(name: string): Promise<void> {
    await this.call(['--terminate', name]);
  }

  async shutdown(): Promise<void> {
    await this.call(['--shutdown']);
  }

  async setDefault(name: string): Promise<void> {
    await this.call(['--set-default', name]);
  }

  exec(name: string, argv: string[], options: ExecOptions = {}): WslProcess {
    return this.spawnExec(name, argv, options, false);
  }

  run(name: string, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.spawnExec(name, argv, options, true).done;
  }

  /**
   * `collect` keeps the output for the result; without it the caller reads the streams, and
   * `done` settles when wsl itself exits even if a process it started still holds the
   * output pipes open (wsl killed: its command may live on; the caller must still learn).
   */
  private spawnExec(name: string, argv: string[], options: ExecOptions, collect: boolean): WslProcess {
    const args = ['-d', name];
    if (options.user) args.push('-u', options.user);
    if (options.cwd) args.push('--cd', options.cwd);
    args.push('--exec', ...argv);
    const { child, outcome } = spawnWsl(this.options.command, args, {
      env: { ...this.baseEnv(), ...withWslenv(options.env) },
      input: options.input,
      stdin: options.stdin,
      stdout: options.stdout,
      stderr: options.stderr,
      collect,
      signal: options.signal,
    });
    const done = outcome.then((r) => {
      if (r.spawnError) throw spawnError(this.options.command, r.spawnError);
      const exitCode = r.exitCode ?? (r.signal ? 128 : 1);
      // wsl's own failure (-1) carries its error text on stdout; a command's 255 does not say "Error code:".
      if (WSL_OWN_FAILURE.has(exitCode) && /Error code:/.test(decodeWslOutput(r.stdout))) throw errorFromOutput(decodeWslOutput(r.stdout), exitCode);
      return { exitCode, signal: r.signal, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') } satisfies ExecResult;
    });
    return { pid: child.pid, done, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, kill: (signal?: NodeJS.Signals) => child.kill(signal) };
  }

  socketHostPath(socketPath: string): string | undefined {
    return this.options.sharedAreaPath ? sharedAreaHostPath(this.options.sharedAreaPath, socketPath) : undefined;
  }

  async connect(name: string, socketPath: string): Promise<Duplex> {
    if (this.options.sharedAreaPath) return connectDirect(this.options.sharedAreaPath, socketPath);
    if (!this.options.relayCommand) {
      throw new WslError('failed', 'This WSL host can reach distro sockets only through a relay, and none is configured');
    }
    return connectRelay(
      this.exec(name, [...this.options.relayCommand, socketPath], {
        user: 'root',
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'pipe',
      }),
    );
  }

  /** Every call's environment: this process's, then the host's options, then WSL_UTF8=1. */
  private baseEnv(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.options.env, WSL_UTF8: '1' };
  }

  /** Runs a wsl management command; returns its decoded stdout, or undefined for "no distributions". */
  private async call(args: string[], opts: { allowNoDistros?: boolean; input?: Readable } = {}): Promise<string | undefined> {
    const r = await spawnWsl(this.options.command, args, { env: this.baseEnv(), input: opts.input, collect: true }).outcome;
    if (r.spawnError) throw spawnError(this.options.command, r.spawnError);
    if (r.exitCode === undefined) throw new WslError('failed', `${this.options.command} ${args[0] ?? ''} was killed (${r.signal ?? 'signal'})`);
    const out = decodeWslOutput(r.stdout);
    if (r.exitCode === 0) return out;
    const text = `${out}\n${decodeWslOutput(r.stderr)}`.trim();
    if (opts.allowNoDistros && (saysNoDistributions(text) || (!errorCodeOf(text) && (await this.hasNoDistros())))) return undefined;
    throw errorFromOutput(text, r.exitCode);
  }

  /** `wsl -l -q` succeeds silently when nothing is installed: how "none" reads in any language. */
  private async hasNoDistros(): Promise<boolean> {
    // Its own failure says nothing more: the caller then reports the first one.
    const names = await this.call(['--list', '--quiet']).catch(() => undefined);
    return names?.trim() === '';
  }
}

function spawnError(command: string, cause: unknown): WslError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new WslError('wsl-missing', `The WSL command ${command} was not found`, undefined, undefined, { cause });
  return new WslError('failed', `Running ${command} failed: ${String((cause as Error)?.message ?? cause)}`, undefined, undefined, { cause });
}

/** WSL carries Windows-side variables into a distro only when WSLENV names them. */
export function withWslenv(extra: Record<string, string> | undefined): Record<string, string> {
  if (!extra || Object.keys(extra).length === 0) return {};
  const names = Object.keys(extra);
  const existing = (process.env.WSLENV ?? '').split(':').filter(Boolean);
  const wslenv = [...existing.filter((e) => !names.includes(e.split('/')[0]!)), ...names].join(':');
  return { ...extra, WSLENV: wslenv };
}
