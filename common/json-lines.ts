import { StringDecoder } from 'node:string_decoder';
import type * as z from './zod.js';

/** The typed messages between Berth's processes are JSON lines; this reads one against its schema. */
/** One line against `schema`: the value, or the reason it does not fit. */
export function parseLine<T>(schema: z.ZodType<T>, line: string): { value: T } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    return { error: `not JSON (${(e as Error).message})` };
  }
  const r = schema.safeParse(json);
  if (r.success) return { value: r.data };
  const issue = r.error.issues[0]!;
  return { error: `${issue.path.join('.') || '(message)'}: ${issue.message}` };
}

/**
 * Splits a byte stream into lines (a multi-byte character cut between chunks stays whole)
 * and hands each line that fits `schema` to `onValue`; the others to `onBad`, if given.
 */
export function onJsonLines<T>(stream: NodeJS.ReadableStream, schema: z.ZodType<T>, onValue: (value: T) => void, onBad?: (line: string, why: string) => void): void {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  stream.on('data', (chunk: Buffer | string) => {
    const lines = (partial + (typeof chunk === 'string' ? chunk : decoder.write(chunk))).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      const r = parseLine(schema, line);
      if ('value' in r) onValue(r.value);
      else onBad?.(line, r.error);
    }
  });
}
