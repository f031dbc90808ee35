import * as z from '../../common/zod.js';

/** One log line as the daemon keeps it, and as its query socket sends it (one JSON line each). */
export const logEntrySchema = z.object({ time: z.string(), source: z.string(), msg: z.string() }).strict();
export type LogEntry = z.infer<typeof logEntrySchema>;

/**
 * A bounded ring of the newest lines: a source that spams can only push older lines out,
 * never grow the daemon's memory.
 */
export class LogRing {
  private entries: LogEntry[] = [];
  private start = 0;
  /** Lines dropped because the ring was full (since start). */
  dropped = 0;

  constructor(
    readonly maxLines: number,
    readonly maxLineBytes: number,
  ) {}

  push(source: string, msg: string, time = new Date()): LogEntry {
    const cut = Buffer.byteLength(msg) > this.maxLineBytes ? cutToBytes(msg, this.maxLineBytes) : msg;
    const entry = { time: time.toISOString(), source, msg: cut };
    if (this.entries.length < this.maxLines) {
      this.entries.push(entry);
    } else {
      this.entries[this.start] = entry;
      this.start = (this.start + 1) % this.maxLines;
      this.dropped++;
    }
    return entry;
  }

  /** Oldest first. */
  dump(): LogEntry[] {
    return [...this.entries.slice(this.start), ...this.entries.slice(0, this.start)];
  }

  get size(): number {
    return this.entries.length;
  }
}

/** `2019-02-22T16:04:23Z,docker;msg`: the format logread prints. */
export function formatLine(e: LogEntry): string {
  return `${e.time.replace(/\.\d+Z$/, 'Z')},${e.source};${e.msg}`;
}

/** The longest start of `text` within `max` UTF-8 bytes, never splitting a character. */
function cutToBytes(text: string, max: number): string {
  const bytes = Buffer.from(text);
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // a continuation byte: back to the character's start
  return bytes.subarray(0, end).toString('utf8');
}
