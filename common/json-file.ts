import { readFile } from 'node:fs/promises';
import type * as z from './zod.js';

/**
 * A JSON file checked against `schema`; `missing()` when there is no such file. Any other
 * failure throws an Error that names the file and keeps the cause: `unreadable` and
 * `invalid` say what the file is and what to do (never its text, which may hold secrets).
 */
export async function readJsonFile<S extends z.ZodType>(
  file: string,
  schema: S,
  o: { missing: () => z.output<S>; invalid: (why: 'not JSON' | 'unexpected keys or values') => string; unreadable?: (message: string) => string },
): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return o.missing();
    throw new Error(o.unreadable?.((e as Error).message) ?? `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return schema.parse(JSON.parse(text));
  } catch (e) {
    throw new Error(o.invalid(e instanceof SyntaxError ? 'not JSON' : 'unexpected keys or values'), { cause: e });
  }
}
