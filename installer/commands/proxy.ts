import { askBackend } from '../backend/client.js';
import type { HomeLayout } from '../home.js';
import { hideUrlPasswords, keepProxyPasswords } from '../secrets.js';
import { loadSettings, proxySettingsSchema, SettingsError, updateSettings, type ProxySettings } from '../settings.js';

export interface ProxyCommandOptions {
  /** pac: the PAC file's URL (the command's second argument). */
  pac?: string;
  http?: string;
  https?: string;
  exclude?: string;
  /** Set the containers' proxy (Docker Desktop's "containers proxy") instead of the engine's. */
  containers?: boolean;
}

/**
 * `berth proxy [none|system|manual|pac] [PAC-URL] [--http URL] [--https URL] [--exclude LIST] [--containers]`:
 * with no mode, prints the proxy settings; with one, checks and saves them, and a running
 * Berth follows at once (the internal proxies are repointed; dockerd and containers keep running).
 */
export async function proxyCommand(home: HomeLayout, mode: string | undefined, o: ProxyCommandOptions, say: (line: string) => void): Promise<void> {
  const key = o.containers ? 'containersProxy' : 'proxy';
  if (mode === undefined) {
    const s = await loadSettings(home.settings);
    say(`proxy: ${describeProxy(s.proxy)}`);
    say(`containersProxy: ${s.containersProxy ? describeProxy(s.containersProxy) : 'as proxy'}`);
    return;
  }
  const wanted = {
    mode,
    ...(o.http !== undefined ? { http: o.http } : {}),
    ...(o.https !== undefined ? { https: o.https } : {}),
    ...(o.pac !== undefined ? { pac: o.pac } : {}),
    exclude: (o.exclude ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  };
  const checked = proxySettingsSchema.safeParse(wanted);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const field = issue.path[0] === 'pac' ? 'pac URL' : issue.path.length ? `--${String(issue.path[0])}` : 'the mode';
    const given = issue.path.length ? ` ${JSON.stringify((wanted as Record<string, unknown>)[String(issue.path[0])])}` : '';
    throw new SettingsError(`proxy ${field}${given}: ${issue.message}. Nothing was changed.`);
  }
  // The password goes to the secrets file (0600); settings.json keeps `user@` to find it.
  const kept = await keepProxyPasswords(home.secrets, checked.data);
  await updateSettings(home.settings, (s) => {
    s[key] = kept;
  });
  const live = await askBackend(home, 'reloadNetwork');
  say(`${key}: ${describeProxy(kept)}`);
  if (live?.proxy) say(`in effect now (no restart): engine ${live.proxy.engine}; containers ${live.proxy.containers}`);
  else say('saved; Berth uses it when it starts.');
}

/** A proxy setting in one line, passwords hidden. */
export function describeProxy(p: ProxySettings): string {
  if (p.mode === 'pac') return `pac ${p.pac ? hideUrlPasswords(p.pac) : '(no URL)'}` + (p.exclude.length ? `, except ${p.exclude.join(',')}` : '');
  if (p.mode !== 'manual') return p.mode + (p.exclude.length ? `, except ${p.exclude.join(',')}` : '');
  return ['manual', p.http && `http ${hideUrlPasswords(p.http)}`, p.https && `https ${hideUrlPasswords(p.https)}`, p.exclude.length && `except ${p.exclude.join(',')}`].filter(Boolean).join(', ');
}
