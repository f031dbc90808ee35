import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { StdioOption } from './host.js';

/*
 * One run of the WSL command (wsl.exe, or bin/berth-wsl) as a child process. The manager
 * calls it a dozen times per engine start, and execa's per-call work (~1.5 ms of CPU each
 * here, ~10 ms for the first, and its load) sat on the backend's one thread in every start:
 * node:child_process, as common/run-command.ts does for the processes that start often.
 */

export interface WslSpawnOptions {
  env: NodeJS.ProcessEnv;
  /** Fed to stdin, which then ends; instead of `stdin`. */
  input?: Readable | string | Uint8Array | undefined;
  stdin?: StdioOption | undefined;
  stdout?: StdioOption | Writable | undefined;
  stderr?: StdioOption | Writable | undefined;
  /** Keep stdout and stderr for the result (else the caller reads the streams). */
  collect: boolean;
  /** Aborting kills the process (SIGTERM). */
  signal?: AbortSignal | undefined;
}

export interface WslOutcome {
  /** undefined when it could not be started at all (then `spawnError` says why). */
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  stdout: Buffer;
  stderr: Buffer;
  spawnError?: Error;
}

export interface SpawnedWsl {
  child: ChildProcess;
  /**
   * Settles once the process has exited and its streams have ended; or, when the caller reads
   * the streams, 500 ms after the exit if they outlive it (wsl killed: the command it started
   * may hold them on; the caller must still learn that wsl ended).
   */
  outcome: Promise<WslOutcome>;
}

const stdioOf = (option: StdioOption | Writable | undefined): StdioOption => (option === undefined || typeof option !== 'string' ? 'pipe' : option);

export function spawnWsl(command: string, args: string[], o: WslSpawnOptions): SpawnedWsl {
  const child = spawn(command, args, { env: o.env, stdio: [o.input !== undefined ? 'pipe' : (o.stdin ?? 'ignore'), stdioOf(o.stdout), stdioOf(o.stderr)] });
  const kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = child[name];
    const target = o[name];
    // Into the caller's stream, which stays open (it may be the caller's own stdout).
    if (stream && target !== undefined && typeof target !== 'string') stream.pipe(target, { end: false });
    else if (stream && o.collect) stream.on('data', (chunk: Buffer) => kept[name].push(chunk));
  }
  if (o.input !== undefined && child.stdin) {
    child.stdin.on('error', () => undefined); // it may exit before reading it all: its exit says so
    if (typeof o.input === 'string' || o.input instanceof Uint8Array) child.stdin.end(o.input);
    else {
      o.input.on('error', (e) => child.stdin?.destroy(e));
      o.input.pipe(child.stdin);
    }
  }
  const abort = () => child.kill();
  if (o.signal?.aborted) abort();
  else o.signal?.addEventListener('abort', abort, { once: true });
  const outcome = new Promise<WslOutcome>((resolve) => {
    const result = (exitCode: number | undefined, signal: NodeJS.Signals | undefined, spawnError?: Error): WslOutcome => ({
      exitCode,
      signal,
      stdout: Buffer.concat(kept.stdout),
      stderr: Buffer.concat(kept.stderr),
      ...(spawnError ? { spawnError } : {}),
    });
    const settle = (outcome: WslOutcome) => {
      o.signal?.removeEventListener('abort', abort);
      resolve(outcome);
    };
    child.on('error', (e) => {
      // Only a process that never ran has no exit to wait for.
      if (child.pid === undefined) settle(result(undefined, undefined, e));
    });
    const ended = (code: number | null, signal: NodeJS.Signals | null) => settle(result(code ?? undefined, signal ?? undefined));
    child.once('close', ended);
    if (!o.collect) child.once('exit', (code, signal) => setTimeout(() => ended(code, signal), 500).unref());
  });
  return { child, outcome };
}
