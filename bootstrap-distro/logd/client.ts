import type { Duplex } from 'node:stream';
import { QUERY } from './daemon.js';
import { onJsonLines } from '../../common/json-lines.js';
import { formatLine, logEntrySchema, type LogEntry } from './ring.js';

export type QueryMode = keyof typeof QUERY;

/**
 * logread over any stream to the query socket: sends the mode byte, then hands each entry
 * of the wanted sources (all when none given; `name` also matches `name.out`) to onEntry.
 * Resolves when the daemon closes the stream (after a dump).
 */
export function readLogs(stream: Duplex, mode: QueryMode, sources: string[], onEntry: (e: LogEntry) => void): Promise<void> {
  const wanted = (s: string) => sources.length === 0 || sources.includes(s) || sources.includes(s.replace(/\.out$/, ''));
  return new Promise((resolve, reject) => {
    onJsonLines(stream, logEntrySchema, (e) => wanted(e.source) && onEntry(e));
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
    stream.write(Buffer.from([QUERY[mode]]));
  });
}

export { formatLine };
