import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from '../common/zod.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { ENGINE_LIMITS } from '../common/engine-limits.js';

/** An upstream proxy: http(s)://[user:password@]host[:port], as Docker Desktop's Proxies settings take it. */
const proxyUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && (u.pathname === '/' || u.pathname === '');
    } catch {
      return false;
    }
  },
  { message: 'not a proxy URL; write it as http://HOST:PORT (e.g. http://proxy.example.com:3128), with user:password@ before the host if it needs them' },
);

/** Where a PAC file is: http(s):// or file:// (an absolute path). */
const pacUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '') || (u.protocol === 'file:' && u.pathname.length > 1);
    } catch {
      return false;
    }
  },
  { message: 'not a PAC URL; write it as http://HOST/proxy.pac, https://… or file:///path/to/proxy.pac' },
);

export const proxySettingsSchema = z
  .object({
    /** none: direct; system: the host's own (HTTP(S)_PROXY / NO_PROXY here, Internet Settings on Windows); manual: the URLs below; pac: the PAC file at `pac`. */
    mode: z.enum(['none', 'system', 'manual', 'pac']).default('none'),
    http: proxyUrl.optional(),
    https: proxyUrl.optional(),
    pac: pacUrl.optional(),
    /** Hosts, domains (.example.com), addresses or CIDRs that bypass the proxy. */
    exclude: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .refine((p) => p.mode !== 'manual' || p.http !== undefined || p.https !== undefined, {
    message: 'mode "manual" needs "http" or "https" (a proxy URL)',
  })
  .refine((p) => p.mode !== 'pac' || p.pac !== undefined, { message: 'mode "pac" needs "pac" (the PAC file\'s URL)', path: ['pac'] });

export type ProxySettings = z.infer<typeof proxySettingsSchema>;

/** What WSL accepts as a distro name; anything else is refused wherever a name comes from. */
export const DISTRO_NAME = /^[A-Za-z0-9._-]+$/;

export const settingsSchema = z
  .object({
    /** The "Use the WSL 2 based engine" checkbox. */
    wslEngine: z.boolean().default(false),
    /** User distros where `docker` and /var/run/docker.sock are made to work. */
    integratedDistros: z.array(z.string().regex(DISTRO_NAME, 'a WSL distro name')).default([]),
    integrateWithDefaultDistro: z.boolean().default(false),
    /** Drive sharing: letter → host directory; host paths under them are shared with containers. */
    drives: z.record(z.string().regex(/^[a-z]$/, 'a drive letter a-z'), z.string().regex(/^(\/|[A-Za-z]:\\)/, 'an absolute path')).default({}),
    logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
    /** The proxy the engine's own traffic (pulls) goes through, and containers by default. */
    proxy: proxySettingsSchema.default({ mode: 'none', exclude: [] }),
    /** A different proxy for containers (Docker Desktop's "containers proxy"); default: `proxy`. */
    containersProxy: proxySettingsSchema.optional(),
    /** Caps on the engine (dockerd, containerd and every container together); unset: none beyond the VM's. */
    memoryMiB: z.number({ error: 'a number of MiB' }).int('a whole number of MiB').min(ENGINE_LIMITS.memoryMiB.min, `at least ${ENGINE_LIMITS.memoryMiB.min} (dockerd alone needs ~100 MiB)`).optional(),
    cpus: z.number({ error: 'a number of CPUs, like 2 or 1.5' }).min(ENGINE_LIMITS.cpus.min, `at least ${ENGINE_LIMITS.cpus.min}`).max(ENGINE_LIMITS.cpus.max, `at most ${ENGINE_LIMITS.cpus.max}`).optional(),
    /** berth-data's disk size limit at its import (later: `berth data resize`, which also sets this). */
    /** Resource Saver: pause the engine after this many seconds with no request and no running container; 0 turns it off. */
    autoPauseTimeoutSeconds: z
      .number({ error: 'a number of seconds' })
      .int('whole seconds')
      .refine((n) => n === 0 || n >= 30, 'at least 30 (or 0 to turn Resource Saver off)')
      .default(300),
    /** Every container and build step trusts the CAs the engine trusts (berth-runc puts them in; README "Corporate networks"). */
    containersTrustHostCAs: z.boolean({ error: 'true or false' }).default(true),
    diskSizeGiB: z.number({ error: 'a number of GiB' }).int('a whole number of GiB').min(1, 'at least 1').max(16384, 'at most 16384 (16 TiB)').default(64),
  })
  .strict();

export type Settings = z.infer<typeof settingsSchema>;

/** The engine's caps and Resource Saver (the dashboard's Resources → Advanced). */
export const resourceSettingsSchema = settingsSchema.pick({ memoryMiB: true, cpus: true, autoPauseTimeoutSeconds: true });

export class SettingsError extends Error {}

/** The settings file as read: its settings, and the top-level keys this Berth does not know. */
export interface SettingsFile {
  settings: Settings;
  /** Keys a newer Berth may have written (or typos): ignored, kept in the file, reported as a warning. */
  unknownKeys: string[];
  /** Those keys' values, written back as they were when Berth saves the file. */
  unknown: Record<string, unknown>;
}

/**
 * Reads the settings; a missing file gives the defaults, an invalid value an error naming the
 * key — never a silent reset. A key this Berth does not know is not an error (a newer Berth
 * may have written it, and a downgrade must still start): it is ignored and reported.
 */
export async function readSettingsFile(file: string): Promise<SettingsFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { settings: settingsSchema.parse({}), unknownKeys: [], unknown: {} };
    throw new SettingsError(`cannot read settings ${file}: ${(e as Error).message}`, { cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new SettingsError(`settings ${file} is not valid JSON (${(e as Error).message}); fix it or move it away to start from the defaults`, { cause: e });
  }
  const unknown: Record<string, unknown> = {};
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    const known = new Set(Object.keys(settingsSchema.shape));
    for (const [key, value] of Object.entries(doc)) {
      if (known.has(key)) continue;
      unknown[key] = value;
      delete (doc as Record<string, unknown>)[key];
    }
  }
  const result = settingsSchema.safeParse(doc);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(top level)');
    throw new SettingsError(`settings ${file}: "${key}": ${issue.message}; fix that key (the file was left as it is)`);
  }
  return { settings: result.data, unknownKeys: Object.keys(unknown), unknown };
}

/** The warning for keys this Berth does not know, or undefined when there are none. */
export function unknownKeysWarning(file: string, keys: string[]): string | undefined {
  if (keys.length === 0) return undefined;
  return `settings ${file}: ${keys.map((k) => `"${k}"`).join(', ')} ${keys.length === 1 ? 'is not a setting' : 'are not settings'} of this Berth and ${keys.length === 1 ? 'is' : 'are'} ignored (a newer Berth may have written ${keys.length === 1 ? 'it' : 'them'}; if not, remove the typo)`;
}

/** The settings (see readSettingsFile); unknown keys are ignored here. */
export async function loadSettings(file: string): Promise<Settings> {
  return (await readSettingsFile(file)).settings;
}

export async function saveSettings(file: string, settings: Settings, keep: Record<string, unknown> = {}): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify({ ...keep, ...settingsSchema.parse(settings) }, null, 2)}\n`);
}

/** Changes the settings; keys this Berth does not know stay in the file as they were. */
export async function updateSettings(file: string, change: (s: Settings) => void): Promise<Settings> {
  const { settings, unknown } = await readSettingsFile(file);
  change(settings);
  await saveSettings(file, settings, unknown);
  return settings;
}
