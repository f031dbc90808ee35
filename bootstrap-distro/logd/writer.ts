import { appendFileSync, chmodSync, existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { QUERY } from './daemon.js';
import { formatLine, type LogEntry } from './ring.js';

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
 * store was mounted are kept as long as the ring held them) into rotating files.
 */
export function startLogWriter(querySocket: string, files: RotatingFiles): Socket {
  const socket = connect(querySocket);
  let partial = '';
  socket.setEncoding('utf8');
  socket.on('connect', () => socket.write(Buffer.from([QUERY.dumpAndFollow])));
  socket.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    const bySource = new Map<string, string[]>();
    for (const line of lines) {
      try {
        const e = JSON.parse(line) as LogEntry;
        const list = bySource.get(e.source) ?? [];
        list.push(formatLine(e));
        bySource.set(e.source, list);
      } catch {
        // not a log line
      }
    }
    for (const [source, list] of bySource) files.append(source, list);
  });
  socket.on('error', () => {});
  return socket;
}
