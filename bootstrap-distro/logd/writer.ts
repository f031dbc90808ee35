import { appendFileSync, chmodSync, existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { QUERY } from './daemon.js';
import { Backoff } from '../../common/backoff.js';
import { onJsonLines } from '../../common/json-lines.js';
import { formatLine, logEntrySchema, type LogEntry } from './ring.js';

export interface RotationPolicy {
  /** A file is rotated before it would grow past this. */
  maxBytes: number;
  /** Rotated files kept beside the live one: x.log.0 … x.log.(maxFiles-1). */
  maxFiles: number;
}

/** Appends lines to one file per source, rotating `x.log` → `x.log.0` → … at the size limit. */
export class RotatingFiles {
  private sizes = new Map<string, number>();

  constructor(
    private readonly dir: string,
    private readonly policy: RotationPolicy,
  ) {
    // Root only: the logs hold whatever services print (a password, a token).
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }

  /** Appends lines of one source, in one write per file (a write per line cannot keep up with a spammer). */
  append(source: string, lines: string[]): void {
    const file = join(this.dir, `${source.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);
    let size = this.sizes.get(file) ?? (existsSync(file) ? statSync(file).size : 0);
    let batch = '';
    for (const line of lines) {
      const bytes = Buffer.byteLength(line) + 1;
      if (size > 0 && size + bytes > this.policy.maxBytes) {
        if (batch) appendFileSync(file, batch, { mode: 0o600 });
        batch = '';
        this.rotate(file);
        size = 0;
      }
      batch += `${line}\n`;
      size += bytes;
    }
    if (batch) appendFileSync(file, batch, { mode: 0o600 });
    this.sizes.set(file, size);
  }

  private rotate(file: string): void {
    const last = `${file}.${this.policy.maxFiles - 1}`;
    if (existsSync(last)) unlinkSync(last);
    for (let i = this.policy.maxFiles - 2; i >= 0; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    renameSync(file, `${file}.0`);
  }
}

/**
 * logwrite: reads the daemon's query socket (dump, then follow, so lines from before the
 * store was mounted are kept as long as the ring held them) into rotating files. It never
 * stops for good: a lost connection is opened again with Berth's backoff, and a write that
 * fails (a full disk) is reported and retried with the next lines. `problem` says what is
 * wrong now, for the agent's status.
 */
export class LogWriter {
  private socket: Socket | undefined;
  private closed = false;
  private readonly backoff = new Backoff(Backoff.RECONNECT);
  private timer: NodeJS.Timeout | undefined;
  problem: string | undefined;

  constructor(
    private readonly querySocket: string,
    private readonly files: RotatingFiles,
    private readonly report: (line: string) => void,
  ) {
    this.connect();
  }

  private connect(): void {
    const socket = connect(this.querySocket);
    this.socket = socket;
    socket.on('connect', () => {
      this.backoff.succeeded();
      // After a reconnect the dump repeats lines already written; better twice than lost.
      socket.write(Buffer.from([QUERY.dumpAndFollow]));
    });
    onJsonLines(socket, logEntrySchema, (e) => this.write(e));
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      if (this.closed) return;
      const delay = this.backoff.next();
      this.setProblem(`the log writer lost the log daemon; reconnecting in ${delay} ms`);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  private write(e: LogEntry): void {
    try {
      this.files.append(e.source, [formatLine(e)]);
      if (this.problem) this.setProblem(undefined);
    } catch (err) {
      this.setProblem(`persisted logs are not being written: ${(err as Error).message}`);
    }
  }

  private setProblem(problem: string | undefined): void {
    if (problem && problem !== this.problem) this.report(problem);
    else if (!problem && this.problem) this.report('persisted logs are being written again');
    this.problem = problem;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
  }
}
