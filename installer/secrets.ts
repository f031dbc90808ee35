import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from '../common/zod.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { readSettingsFile, updateSettings, type ProxySettings } from './settings.js';
import type { UpstreamProxy } from './network/upstream-proxy.js';
import { readJsonFile } from '../common/json-file.js';

/**
 * $BERTH_HOME/secrets.json, mode 0600: what must not sit in settings.json, which the
 * dashboard shows, the CLI prints and a diagnostics bundle may carry. Today: the upstream
 * proxies' passwords, each under its URL without the password (`http://user@host:port`).
 * On Windows the same entries would live in the Credential Manager (README: Corporate networks).
 */
const secretsSchema = z.object({ proxyPasswords: z.record(z.string(), z.string()).default({}) }).strict();
export type Secrets = z.infer<typeof secretsSchema>;

export function readSecrets(file: string): Promise<Secrets> {
  return readJsonFile(file, secretsSchema, {
    missing: () => ({ proxyPasswords: {} }),
    invalid: (why) => `${file} is not Berth's secrets file (${why}); move it away and give the proxy's password again with \`berth proxy manual --http http://USER:PASS@HOST:PORT\``,
  });
}

async function updateSecrets(file: string, change: (s: Secrets) => void): Promise<void> {
  const secrets = await readSecrets(file);
  change(secrets);
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(secrets, null, 2)}\n`, 0o600);
}

/**
 * Every URL's password in `text` (a proxy's `http://user:pass@host`) replaced by `mask`, for
 * anything that prints or logs proxy URLs.
 */
export function hideUrlPasswords(text: string, mask = '***'): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^:@/\s"']+):[^@/\s"']*@/gi, `$1:${mask}@`);
}

/** `http://user:pass@host:port` → the URL without the password, and the password (decoded). */
export function splitPassword(url: string): { url: string; user?: string; password?: string } {
  const u = new URL(url);
  if (!u.username) return { url };
  const user = decodeURIComponent(u.username);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = '';
  return { url: u.href.replace(/\/$/, ''), user, ...(password !== undefined ? { password } : {}) };
}

/**
 * Moves the passwords out of proxy settings into the secrets file and returns the settings
 * as settings.json keeps them (`user@` stays, so the password can be found again).
 */
export async function keepProxyPasswords(file: string, p: ProxySettings): Promise<ProxySettings> {
  const moved: Record<string, string> = {};
  const strip = (url: string | undefined) => {
    if (url === undefined) return undefined;
    const s = splitPassword(url);
    if (s.password !== undefined) moved[s.url] = s.password;
    return s.url;
  };
  const http = strip(p.http);
  const https = strip(p.https);
  if (Object.keys(moved).length) await updateSecrets(file, (s) => Object.assign(s.proxyPasswords, moved));
  return { ...p, ...(http !== undefined ? { http } : {}), ...(https !== undefined ? { https } : {}) };
}

/** The upstream with each `user@` URL's password put back, for the internal proxy alone. */
export function withProxyPasswords(u: UpstreamProxy, secrets: Secrets): UpstreamProxy {
  const fill = (url: string | undefined) => {
    if (url === undefined) return undefined;
    const s = splitPassword(url);
    const password = s.password ?? secrets.proxyPasswords[s.url];
    if (password === undefined) return url;
    const full = new URL(s.url);
    full.password = encodeURIComponent(password);
    return full.href.replace(/\/$/, '');
  };
  const http = fill(u.http);
  const https = fill(u.https);
  return { ...u, ...(http !== undefined ? { http } : {}), ...(https !== undefined ? { https } : {}) };
}

/**
 * A settings file from before secrets.json may hold proxy passwords: they move to the
 * secrets file (the settings keep `user@`). Says whether anything moved.
 */
export async function movePasswordsOutOfSettings(settingsFile: string, secretsFile: string): Promise<boolean> {
  const { settings } = await readSettingsFile(settingsFile);
  const carries = (p: ProxySettings | undefined) => [p?.http, p?.https].some((u) => u !== undefined && splitPassword(u).password !== undefined);
  if (!carries(settings.proxy) && !carries(settings.containersProxy)) return false;
  const proxy = await keepProxyPasswords(secretsFile, settings.proxy);
  const containersProxy = settings.containersProxy && (await keepProxyPasswords(secretsFile, settings.containersProxy));
  await updateSettings(settingsFile, (s) => {
    s.proxy = proxy;
    if (containersProxy) s.containersProxy = containersProxy;
  });
  return true;
}
