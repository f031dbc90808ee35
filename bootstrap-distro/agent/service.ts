import { spawn, type ChildProcess } from 'node:child_process';
import type { ServiceStatus } from './control.js';
import type { LinuxkitEntry } from './linuxkit.js';
import { envObject } from './linuxkit.js';
import { paths } from './paths.js';

const BASE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };

/** Keeps the last lines of a process's output, for errors and status. */
export class OutputTail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly max = 50) {}
  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const l of parts) {
      this.lines.push(l);
      if (this.lines.length > this.max) this.lines.shift();
    }
    return parts;
  }
  last(n: number): string[] {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].slice(-n);
  }
}

/** Starts an entry's command chrooted into the LinuxKit root, with its env. */
export function spawnInRoot(entry: LinuxkitEntry, onLine: (line: string) => void, tail: OutputTail): ChildProcess {
  const child = spawn('chroot', [paths.root, ...entry.command], {
    env: { ...BASE_ENV, ...envObject(entry.env) },
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: a signal for the supervisor is not one for it
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8').on('data', (d: string) => tail.push(d).forEach(onLine));
  }
  return child;
}

export interface RestartPolicy {
  /** First delay before a restart; doubles on each quick crash. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A run at least this long counts as healthy and resets the backoff. */
  healthyAfterMs: number;
  /** Quick crashes in a row before the service is marked failed. */
  maxQuickCrashes: number;
}

export const DEFAULT_POLICY: RestartPolicy = { initialDelayMs: 100, maxDelayMs: 10_000, healthyAfterMs: 10_000, maxQuickCrashes: 5 };

/** A LinuxKit service under supervision: restarted with exponential backoff, failed if it keeps crashing. */
export class SupervisedService {
  private child: ChildProcess | undefined;
  private startedAt = 0;
  private quickCrashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly tail = new OutputTail();
  status: ServiceStatus;

  constructor(
    readonly entry: LinuxkitEntry,
    private readonly log: (line: string) => void,
    private readonly policy: RestartPolicy = DEFAULT_POLICY,
  ) {
    this.status = { name: entry.name, state: 'starting', pid: null, restarts: 0, lastExit: null, uptime: null };
  }

  start(): void {
    this.startedAt = Date.now();
    const child = spawnInRoot(this.entry, (l) => this.log(`${this.entry.name}: ${l}`), this.tail);
    this.child = child;
    this.status.state = 'running';
    this.status.pid = child.pid ?? null;
    child.on('error', (e) => this.log(`${this.entry.name}: cannot start: ${e.message}`));
    child.on('exit', (code, signal) => this.exited(code, signal));
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.child = undefined;
    this.status.pid = null;
    this.status.lastExit = { code, signal, at: new Date().toISOString() };
    if (this.stopping) {
      this.status.state = 'stopped';
      return;
    }
    const ran = Date.now() - this.startedAt;
    this.quickCrashes = ran >= this.policy.healthyAfterMs ? 1 : this.quickCrashes + 1;
    if (this.quickCrashes > this.policy.maxQuickCrashes) {
      this.status.state = 'failed';
      this.log(`${this.entry.name}: exited ${this.quickCrashes} times in a row within ${this.policy.healthyAfterMs / 1000}s; marked failed (last output: ${this.tail.last(3).join(' | ')})`);
      return;
    }
    const delay = Math.min(this.policy.initialDelayMs * 2 ** (this.quickCrashes - 1), this.policy.maxDelayMs);
    this.status.state = 'restarting';
    this.log(`${this.entry.name}: exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.status.restarts++;
      this.start();
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
    if (!child || child.exitCode !== null) {
      this.status.state = this.status.state === 'failed' ? 'failed' : 'stopped';
      return;
    }
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.log(`berth-agent: stopping ${this.entry.name} (SIGTERM, SIGKILL after ${deadlineMs / 1000}s)`);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Runs one onboot action to completion; resolves with its exit code and last output. */
export function runOnboot(entry: LinuxkitEntry, log: (line: string) => void): Promise<{ exitCode: number; tail: string[] }> {
  const tail = new OutputTail();
  return new Promise((resolve) => {
    const child = spawnInRoot(entry, (l) => log(`${entry.name}: ${l}`), tail);
    child.on('error', (e) => {
      tail.push(`${e.message}\n`);
      resolve({ exitCode: 127, tail: tail.last(10) });
    });
    child.on('exit', (code, signal) => resolve({ exitCode: code ?? 128 + (signal ? 15 : 0), tail: tail.last(10) }));
  });
}
