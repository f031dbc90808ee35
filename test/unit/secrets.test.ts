import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeProxy, proxyCommand } from '../../installer/commands/proxy.js';
import { changeSettings, type ApiDeps } from '../../installer/dashboard/api.js';
import { redact } from '../../installer/diagnose.js';
import { HomeLayout } from '../../installer/home.js';
import { describeUpstream } from '../../installer/network/internal-proxy.js';
import { upstreamFor } from '../../installer/network/upstream-proxy.js';
import { movePasswordsOutOfSettings, readSecrets, withProxyPasswords } from '../../installer/secrets.js';
import { loadSettings } from '../../installer/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("an upstream proxy's password", () => {
  it('goes to secrets.json (0600), never settings.json or what the CLI says; the internal proxy gets it back', async () => {
    const home = new HomeLayout(join(dir, 'cli'));
    const said: string[] = [];
    await proxyCommand(home, 'manual', { http: 'http://alice:s3cret@Proxy.Corp:3128', https: 'http://alice:s3cret@proxy.corp:3128' }, (l) => said.push(l));
    expect(readFileSync(home.settings, 'utf8')).not.toContain('s3cret');
    const settings = await loadSettings(home.settings);
    expect(settings.proxy.http).toBe('http://alice@proxy.corp:3128');
    expect(said.join('\n')).not.toContain('s3cret');
    expect(statSync(home.secrets).mode & 0o777).toBe(0o600);
    const secrets = await readSecrets(home.secrets);
    expect(secrets.proxyPasswords).toEqual({ 'http://alice@proxy.corp:3128': 's3cret' });
    expect(withProxyPasswords(upstreamFor(settings.proxy, {}), secrets)).toEqual({ http: 'http://alice:s3cret@proxy.corp:3128', https: 'http://alice:s3cret@proxy.corp:3128', exclude: [] });
    // A new password replaces the old; a URL with no user needs none.
    await proxyCommand(home, 'manual', { http: 'http://alice:n%40w@proxy.corp:3128' }, () => {});
    const again = await readSecrets(home.secrets);
    expect(again.proxyPasswords['http://alice@proxy.corp:3128']).toBe('n@w');
    expect(withProxyPasswords({ http: 'http://alice@proxy.corp:3128', exclude: [] }, again).http).toBe('http://alice:n%40w@proxy.corp:3128');
    expect(withProxyPasswords({ http: 'http://other:3128', exclude: [] }, again).http).toBe('http://other:3128');
  });

  it('goes to secrets.json from the dashboard too', async () => {
    const deps = { settingsFile: join(dir, 'dash/settings.json'), secretsFile: join(dir, 'dash/secrets.json'), reloadNetwork: async () => ({}) } as unknown as ApiDeps;
    const answer = await changeSettings(deps, { proxy: { mode: 'manual', http: 'http://bob:hunter2@proxy.corp:8080', exclude: [] } });
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).not.toContain('hunter2');
    expect(readFileSync(deps.settingsFile, 'utf8')).not.toContain('hunter2');
    expect((await readSecrets(deps.secretsFile)).proxyPasswords).toEqual({ 'http://bob@proxy.corp:8080': 'hunter2' });
  });

  it('moves a password an older Berth left in settings.json to secrets.json, once', async () => {
    const home = new HomeLayout(join(dir, 'legacy'));
    mkdirSync(home.root, { recursive: true });
    writeFileSync(home.settings, JSON.stringify({ proxy: { mode: 'manual', http: 'http://carol:old%21pw@proxy.corp:3128', exclude: [] }, someFutureKey: 1 }));
    expect(await movePasswordsOutOfSettings(home.settings, home.secrets)).toBe(true);
    expect(readFileSync(home.settings, 'utf8')).not.toContain('old');
    expect(JSON.parse(readFileSync(home.settings, 'utf8'))).toMatchObject({ proxy: { http: 'http://carol@proxy.corp:3128' }, someFutureKey: 1 });
    expect((await readSecrets(home.secrets)).proxyPasswords).toEqual({ 'http://carol@proxy.corp:3128': 'old!pw' });
    expect(await movePasswordsOutOfSettings(home.settings, home.secrets)).toBe(false);
  });

  it('says a broken secrets file is broken without printing what is in it', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"proxyPasswords": {"http://a@b:1": "topsecret"}, "extra": 1}');
    await expect(readSecrets(file)).rejects.toThrow(/is not Berth's secrets file \(unexpected keys or values\); move it away/);
    await expect(readSecrets(file)).rejects.not.toThrow(/topsecret/);
  });

  it('is redacted from a diagnostics bundle wherever a URL carries it', () => {
    expect(redact('upstream http://alice:s3cret@proxy.corp:3128 and "https://bob:p%40ss@h:1/x"')).toBe('upstream http://alice:<redacted>@proxy.corp:3128 and "https://bob:<redacted>@h:1/x"');
  });

  it('is hidden wherever a proxy is described: the manual URLs and a PAC URL', () => {
    const manual = describeProxy({ mode: 'manual', http: 'http://alice:s3cret@proxy.corp:3128', https: 'http://bob:pw@proxy.corp:3129', exclude: [] });
    expect(manual).toBe('manual, http http://alice:***@proxy.corp:3128, https http://bob:***@proxy.corp:3129');
    expect(describeUpstream({ pac: 'https://carol:pw@pac.corp/proxy.pac', exclude: [] })).toBe('pac https://carol:***@pac.corp/proxy.pac');
  });
});
