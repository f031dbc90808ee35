import { readFile } from 'node:fs/promises';
import * as z from '../../common/zod.js';

/**
 * One onboot action or service, in LinuxKit's schema. Every field is honoured or refused, as
 * LinuxKit refuses unknown keys: Berth runs every entry in the one LinuxKit root (the overlay
 * of the `init` images), in the root's own namespaces, as root with all capabilities. So
 * `image` must name one of the `init` images; `net`/`pid` may only be `host` (the root's
 * namespaces); `capabilities` only `[all]`; `binds` none (the root already has /var/lib, the
 * shared area and the drives); `cwd` is where the command starts.
 */
const entry = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a lower-case name: letters, digits, . _ -'),
    image: z.string().optional(),
    command: z.array(z.string()).min(1, 'needs at least the program to run'),
    env: z.array(z.string().regex(/^[^=]+=/, 'NAME=value')).default([]),
    binds: z.array(z.string()).max(0, 'binds are not supported: every entry sees the whole root (/var/lib is the data store, /mnt/wsl the shared area)').default([]),
    capabilities: z
      .array(z.string())
      .refine((c) => c.length === 1 && c[0]!.toLowerCase() === 'all', "only [all] is supported: every entry runs as root with all capabilities in the engine's namespaces")
      .optional(),
    net: z.literal('host', "only 'host' is supported: every entry shares the root's network namespace").optional(),
    pid: z.literal('host', "only 'host' is supported: every entry shares the root's pid namespace").optional(),
    cwd: z.string().startsWith('/', 'an absolute path inside the root').optional(),
  })
  .strict();

const file = z
  .object({
    path: z.string().min(1),
    contents: z.string().optional(),
    /** LinuxKit's `source`: a file beside the YAML whose bytes the build writes instead. */
    source: z
      .string()
      .regex(/^[\w.-]+$/, 'a file name beside the YAML')
      .optional(),
    mode: z
      .string()
      .regex(/^0?[0-7]{3,4}$/)
      .default('0644'),
  })
  .refine((f) => f.contents === undefined || f.source === undefined, 'contents or source, not both');

const schema = z
  .object({
    /** The kernel is the host's (WSL's): the section is accepted and not used. */
    kernel: z.object({ cmdline: z.string().optional() }).strict().optional(),
    init: z.array(z.string()).default([]),
    onboot: z.array(entry).default([]),
    services: z.array(entry).default([]),
    files: z.array(file).default([]),
  })
  .strict()
  .superRefine((doc, ctx) => {
    const names = [...doc.onboot, ...doc.services].map((e) => e.name);
    for (const n of names.filter((n, i) => names.indexOf(n) !== i)) ctx.addIssue({ code: 'custom', message: `the name "${n}" is used twice` });
    for (const section of ['onboot', 'services'] as const) {
      doc[section].forEach((e, i) => {
        if (e.image !== undefined && !doc.init.includes(e.image)) {
          ctx.addIssue({ code: 'custom', path: [section, i, 'image'], message: `"${e.image}" is not one of the root's images (init: ${doc.init.join(', ') || 'none'})` });
        }
      });
    }
  });

export type LinuxkitEntry = z.infer<typeof entry>;
export type LinuxkitFile = z.infer<typeof file>;
export type LinuxkitConfig = z.infer<typeof schema>;

/** Checks a LinuxKit document (parsed from YAML, or compiled JSON); an error names `source`, the field and the problem. */
export function checkLinuxkit(doc: unknown, source: string): LinuxkitConfig {
  const result = schema.safeParse(doc ?? {});
  if (!result.success) {
    // Every problem at once: fixing a file one error per run is slow.
    const problems = result.error.issues.map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? ` (unknown key ${issue.keys.join(', ')})` : '';
      return `${issue.path.join('.') || '(top)'}: ${issue.message}${keys}`;
    });
    throw new Error(`${source}: ${problems.join('; ')}`, { cause: result.error });
  }
  return result.data;
}

/**
 * Where the image build puts the system image's config, compiled to JSON: the supervisor
 * reads it at every engine start, and JSON keeps the YAML parser out of its resident memory.
 */
export const COMPILED_LINUXKIT = 'etc/berth/linuxkit.json';

/** A compiled config (COMPILED_LINUXKIT), checked again as any message between processes is. */
export async function readCompiledLinuxkit(file: string): Promise<LinuxkitConfig> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not the system image's compiled config (${(e as Error).message}); rebuild the images`, { cause: e });
  }
  return checkLinuxkit(doc, file);
}

/** `NAME=value` list → object. */
export function envObject(env: string[]): Record<string, string> {
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}
