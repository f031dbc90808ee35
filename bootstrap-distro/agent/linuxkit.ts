import { parse } from 'yaml';
import { z } from 'zod';

/** One onboot action or service, in LinuxKit's schema (the fields Berth uses; others are kept but ignored). */
const entry = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'a lower-case name: letters, digits, . _ -'),
    image: z.string().optional(),
    command: z.array(z.string()).min(1, 'needs at least the program to run'),
    env: z.array(z.string().regex(/^[^=]+=/, 'NAME=value')).default([]),
    binds: z.array(z.string()).default([]),
    capabilities: z.array(z.string()).default([]),
    net: z.string().optional(),
    pid: z.string().optional(),
    cwd: z.string().optional(),
  })
  .passthrough();

const file = z.object({
  path: z.string().min(1),
  contents: z.string().default(''),
  mode: z.string().regex(/^0?[0-7]{3,4}$/).default('0644'),
});

const schema = z
  .object({
    init: z.array(z.string()).default([]),
    onboot: z.array(entry).default([]),
    services: z.array(entry).default([]),
    files: z.array(file).default([]),
  })
  .passthrough()
  .superRefine((doc, ctx) => {
    const names = [...doc.onboot, ...doc.services].map((e) => e.name);
    for (const n of names.filter((n, i) => names.indexOf(n) !== i)) ctx.addIssue({ code: 'custom', message: `the name "${n}" is used twice` });
  });

export type LinuxkitEntry = z.infer<typeof entry>;
export type LinuxkitFile = z.infer<typeof file>;
export type LinuxkitConfig = z.infer<typeof schema>;

/** Parses and checks a LinuxKit YAML; an error names the file, the field and the problem. */
export function parseLinuxkit(text: string, source: string): LinuxkitConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  const result = schema.safeParse(doc ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${source}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return result.data;
}

/** `NAME=value` list → object. */
export function envObject(env: string[]): Record<string, string> {
  return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}
