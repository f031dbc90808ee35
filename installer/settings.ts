import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../wsl-host/linux/atomic-file.js';

const settingsSchema = z
  .object({
    /** The "Use the WSL 2 based engine" checkbox. */
    wslEngine: z.boolean().default(false),
    /** User distros where `docker` and /var/run/docker.sock are made to work. */
    integratedDistros: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/, 'a WSL distro name')).default([]),
    integrateWithDefaultDistro: z.boolean().default(false),
    /** Drive sharing: letter → host directory; host paths under them are shared with containers. */
    drives: z.record(z.string().regex(/^[a-z]$/, 'a drive letter a-z'), z.string().regex(/^(\/|[A-Za-z]:\\)/, 'an absolute path')).default({}),
    logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  })
  .strict();

export type Settings = z.infer<typeof settingsSchema>;

export class SettingsError extends Error {}

/** Reads the settings; a missing file gives the defaults, an invalid one an error naming the key — never a silent reset. */
export async function loadSettings(file: string): Promise<Settings> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return settingsSchema.parse({});
    throw new SettingsError(`cannot read settings ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SettingsError(`settings ${file} is not valid JSON (${(e as Error).message}); fix it or move it away to start from the defaults`);
  }
  const result = settingsSchema.safeParse(doc);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(top level)');
    throw new SettingsError(`settings ${file}: "${key}": ${issue.message}; fix that key (the file was left as it is)`);
  }
  return result.data;
}

export async function saveSettings(file: string, settings: Settings): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(settingsSchema.parse(settings), null, 2)}\n`);
}

export async function updateSettings(file: string, change: (s: Settings) => void): Promise<Settings> {
  const settings = await loadSettings(file);
  change(settings);
  await saveSettings(file, settings);
  return settings;
}
