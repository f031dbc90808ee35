import { config } from 'zod';

/**
 * zod, as every Berth process uses it: the one import of the library. `jitless` skips zod's
 * `new Function` fast path for objects: its probe and compile cost each short-lived process
 * (the CLI, an agent start) 3–5 ms at its first parse, more than it saves on the few small
 * messages a Berth process checks. Set here so that it holds before any schema is built.
 * Re-exported by name (used as `import * as z`): a whole `export *` kept all of zod, ~450 KB,
 * in every bundle; named, the bundler still drops what Berth does not use.
 */
config({ jitless: true });

export { array, boolean, coerce, discriminatedUnion, enum, literal, number, object, partialRecord, record, string, tuple, union, unknown, type infer, type input, type output, type ZodType } from 'zod';
