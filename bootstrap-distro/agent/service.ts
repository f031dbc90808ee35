import { spawn, type ChildProcess } from 'node:child_process';
import type { AdoptedProcess } from './engine-init.js';
import { entryEnv } from './boot-plan.js';
import type { Socket } from 'node:net';
import type { ServiceStatus } from './control.js';
import type { LinuxkitEntry } from './linuxkit.js';
import { enterRootCommand } from './root.js';
import { Backoff, type BackoffPolicy } from '../../common/backoff.js';

/** Where onboot actions and services write: the log daemon, which tags their lines. */
export interface LogSink {
  /** A connection to the daemon for one source; handed to the process as its stdout or stderr. */
  stream(source: string): Promise<Socket>;
  /** The last lines a process wrote (stdout and stderr), for error messages. */
  last(name: string, n: number): string[];
  /** The agent's own message. */
  agent(line: string): void;
}

/**
 * Starts an entry's command in the LinuxKit root, with its env; its stdout and
 * stderr go straight to the log daemon (as `name.out` and `name`, LinuxKit's tags).
 */
export async function spawnInRoot(entry: LinuxkitEntry, logs: LogSink): Promise<ChildProcess> {
  const [out, err] = await Promise.all([logs.stream(`${entry.name}.out`), logs.stream(entry.name)]);
  try {
    const [file, ...args] = enterRootCommand(entry.command, 'self', entry.cwd);
    return spawn(file!, args, {
      env: entryEnv(entry),
      cwd: '/',
      stdio: ['ignore', out, err],
      detached: true, // its own process group: a signal for the supervisor is not one for it
    });
  } finally {
    // The child holds its own copies; the daemon reads until the child closes them.
    out.destroy();
    err.destroy();
  }
}

export interface RestartPolicy {
  backoff: BackoffPolicy & { healthyAfterMs: number };
  /** Quick crashes in a row before the service is marked failed. */
  maxQuickCrashes: number;
}

export const DEFAULT_POLICY: RestartPolicy = { backoff: { ...Backoff.SERVICE_RESTART, healthyAfterMs: 10_000 }, maxQuickCrashes: 5 };

/** A service's current process: one the supervisor spawned, or one berth-engine-init started. */
interface ServiceProcess {
  readonly pid: number | undefined;
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<void>;
}

/** A LinuxKit service under supervision: restarted with exponential backoff, failed if it keeps crashing. */
export class SupervisedService {
  private child: ServiceProcess | undefined;
  private startedAt = 0;
  private readonly backoff: Backoff;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  status: ServiceStatus;

  constructor(
    readonly entry: LinuxkitEntry,
    private readonly logs: LogSink,
    private readonly policy: RestartPolicy = DEFAULT_POLICY,
  ) {
    this.status = { name: entry.name, state: 'starting', pid: null, restarts: 0, lastExit: null, uptime: null };
    this.backoff = new Backoff(policy.backoff);
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    const child = await spawnInRoot(this.entry, this.logs);
    const exited = new Promise<void>((resolve) => {
      child.on('error', (e) => this.logs.agent(`${this.entry.name}: cannot start: ${e.message}`));
      child.on('exit', (code, signal) => {
        this.exited(code, signal);
        resolve();
      });
    });
    this.running({ pid: child.pid, kill: (signal) => child.kill(signal), exited });
  }

  /** The first run, as berth-engine-init started it before the supervisor was up. */
  adopt(first: AdoptedProcess): void {
    this.startedAt = Date.now();
    const exited = first.exited.then(({ code, signal }) => this.exited(code, signal));
    this.running({ pid: first.pid, kill: (signal) => first.kill(signal), exited });
  }

  private running(child: ServiceProcess): void {
    this.child = child;
    this.status.state = 'running';
    this.status.pid = child.pid ?? null;
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.child = undefined;
    this.status.pid = null;
    this.status.lastExit = { code, signal, at: new Date().toISOString() };
    if (this.stopping) {
      this.status.state = 'stopped';
      return;
    }
    this.backoff.ran(Date.now() - this.startedAt);
    // A service that ran healthy and then died comes back at once (what users wait on after
    // a crash); only crashes in a row wait, longer each time.
    const delay = this.backoff.failures === 0 ? (this.backoff.next(), 0) : this.backoff.next();
    if (this.backoff.failures > this.policy.maxQuickCrashes) {
      this.status.state = 'failed';
      this.logs.agent(
        `${this.entry.name}: exited ${this.backoff.failures} times in a row within ${this.policy.backoff.healthyAfterMs / 1000}s; marked failed (last output: ${this.logs.last(this.entry.name, 3).join(' | ')})`,
      );
      return;
    }
    this.status.state = 'restarting';
    this.logs.agent(`${this.entry.name}: exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.status.restarts++;
      this.start().catch((e: Error) => this.logs.agent(`${this.entry.name}: cannot start: ${e.message}`));
    }, delay);
  }

  snapshot(): ServiceStatus {
    return { ...this.status, uptime: this.child ? Math.round((Date.now() - this.startedAt) / 100) / 10 : null };
  }

  /** SIGTERM, then SIGKILL after the deadline; resolves once it has exited. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) {
      this.status.state = this.status.state === 'failed' ? 'failed' : 'stopped';
      return;
    }
    this.logs.agent(`stopping ${this.entry.name} (SIGTERM, SIGKILL after ${deadlineMs / 1000}s)`);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    await child.exited;
    clearTimeout(timer);
  }
}
