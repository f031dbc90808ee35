import type { Duplex } from 'node:stream';
import { QUERY } from './daemon.js';
import { formatLine, type LogEntry } from './ring.js';

export type QueryMode = keyof typeof QUERY;

/**
 * logread over any stream to the query socket: sends the mode byte, then hands each entry
 * of the wanted sources (all when none given; `name` also matches `name.out`) to onEntry.
 * Resolves when the daemon closes the stream (after a dump).
 */
export function readLogs(stream: Duplex, mode: QueryMode, sources: string[], onEntry: (e: LogEntry) => void): Promise<void> {
  const wanted = (s: string) => sources.length === 0 || sources.includes(s) || sources.includes(s.replace(/\.out$/, ''));
  return new Promise((resolve, reject) => {
    let partial = '';
    stream.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const e = JSON.parse(line) as LogEntry;
          if (wanted(e.source)) onEntry(e);
        } catch {
          // not a log line
        }
      }
    });
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
    stream.write(Buffer.from([QUERY[mode]]));
  });
}

export { formatLine };
