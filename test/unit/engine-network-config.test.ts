import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINE_LINK } from '../../installer/network/addresses.js';
import { containersProxyEnv } from '../../installer/network/engine-network.js';
import { isExcluded, parseInternetSettings, upstreamFor } from '../../installer/network/upstream-proxy.js';
import { collectTrustedCas, readPem } from '../../installer/network/trusted-cas.js';
import { loadSettings } from '../../installer/settings.js';
import { findHelper, slirpAddresses, slirpArgs } from '../../common/user-mode-net.js';
import { generatedResolvConf, WSL_NAT } from '../../wsl-host/linux/vm-nat.js';
import { addProxyEnv } from '../../wsl-proxy/containers-proxy-env.js';
import { REPO } from '../helpers/wsl-root.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-net-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('proxy settings', () => {
  const settingsWith = async (proxy: unknown) => {
    const file = join(dir, `settings-${Math.random()}.json`);
    writeFileSync(file, JSON.stringify({ proxy }));
    return loadSettings(file);
  };

  it('accepts none, system and manual with URLs and an exclude list', async () => {
    expect((await settingsWith({ mode: 'none' })).proxy).toEqual({ mode: 'none', exclude: [] });
    const manual = await settingsWith({ mode: 'manual', http: 'http://user:pw@proxy.corp:3128', exclude: ['.corp', '10.0.0.0/8'] });
    expect(manual.proxy.http).toBe('http://user:pw@proxy.corp:3128');
  });

  it('refuses a URL that does not parse, naming the key and the form it wants; the file is left alone', async () => {
    const file = join(dir, 'bad.json');
    const text = JSON.stringify({ proxy: { mode: 'manual', http: 'proxy.corp:3128' } });
    writeFileSync(file, text);
    await expect(loadSettings(file)).rejects.toThrow(/"proxy\.http": not a proxy URL; write it as http:\/\/HOST:PORT/);
    expect(readFileSync(file, 'utf8')).toBe(text);
    await expect(settingsWith({ mode: 'manual' })).rejects.toThrow(/needs "http" or "https"/);
    await expect(settingsWith({ mode: 'socks' })).rejects.toThrow(/"proxy\.mode"/);
  });
});

describe('upstream proxy', () => {
  it('takes the host environment for "system" (either case), the settings for "manual", nothing for "none"', () => {
    const env = { https_proxy: 'http://p:1', HTTP_PROXY: 'http://p:2', NO_PROXY: 'a.corp, .b.corp' };
    expect(upstreamFor({ mode: 'system', exclude: ['c'] }, env)).toEqual({ http: 'http://p:2', https: 'http://p:1', exclude: ['a.corp', '.b.corp', 'c'] });
    expect(upstreamFor({ mode: 'manual', http: 'http://m:3', exclude: [] }, env)).toEqual({ http: 'http://m:3', exclude: [] });
    expect(upstreamFor({ mode: 'none', exclude: ['x'] }, env)).toEqual({ exclude: [] });
  });

  it("reads Windows' Internet Settings from `reg query` output (recorded)", () => {
    const recorded = [
      '',
      'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
      '    DisableCachingOfSSLPages    REG_DWORD    0x0',
      '    ProxyEnable    REG_DWORD    0x1',
      '    ProxyServer    REG_SZ    http=proxy.corp:8080;https=secure.corp:8443;ftp=ftp.corp:21',
      '    ProxyOverride    REG_SZ    *.corp.example;10.*;<local>',
      '',
    ].join('\r\n');
    expect(parseInternetSettings(recorded)).toEqual({ http: 'http://proxy.corp:8080', https: 'http://secure.corp:8443', exclude: ['.corp.example', '10.*', '<local>'] });
    expect(parseInternetSettings(recorded.replace('0x1', '0x0'))).toEqual({ exclude: [] });
    expect(parseInternetSettings('    ProxyEnable    REG_DWORD    0x1\r\n    ProxyServer    REG_SZ    one.corp:3128\r\n')).toEqual({ http: 'http://one.corp:3128', https: 'http://one.corp:3128', exclude: [] });
  });

  it('matches NO_PROXY rules: exact, domain suffix, *, CIDR, <local>', () => {
    const rules = ['registry.corp', '.internal.example', '10.0.0.0/8', '<local>'];
    expect(isExcluded('registry.corp', rules)).toBe(true);
    expect(isExcluded('a.internal.example', rules)).toBe(true);
    expect(isExcluded('internal.example', rules)).toBe(true);
    expect(isExcluded('notinternal.example', rules)).toBe(false);
    expect(isExcluded('10.20.30.40', rules)).toBe(true);
    expect(isExcluded('11.0.0.1', rules)).toBe(false);
    expect(isExcluded('intranet', rules)).toBe(true);
    expect(isExcluded('deb.debian.org', rules)).toBe(false);
    expect(isExcluded('anything', ['*'])).toBe(true);
  });
});

describe("containers' proxy variables", () => {
  it('are none when direct, else the internal proxy by name with the exclusions', () => {
    expect(containersProxyEnv({ exclude: [] })).toEqual({});
    const env = containersProxyEnv({ http: 'http://p:1', exclude: ['.corp'] });
    expect(env.HTTP_PROXY).toMatch(/^http:\/\/http\.docker\.internal:\d+$/);
    expect(env.no_proxy).toContain('.corp');
  });

  it('are added at create unless the request sets them, in either case', () => {
    const vars = { HTTP_PROXY: 'http://i:1', http_proxy: 'http://i:1', NO_PROXY: 'x' };
    const body: { Env?: string[] } = { Env: ['A=1', 'http_proxy=http://mine:9'] };
    addProxyEnv(body, vars);
    expect(body.Env).toEqual(['A=1', 'http_proxy=http://mine:9', 'NO_PROXY=x']);
    const bare: { Env?: string[] } = {};
    addProxyEnv(bare, vars);
    expect(bare.Env).toEqual(['HTTP_PROXY=http://i:1', 'http_proxy=http://i:1', 'NO_PROXY=x']);
    const none: { Env?: string[] } = {};
    addProxyEnv(none, {});
    expect(none.Env).toBeUndefined();
  });
});

describe('trusted CAs', () => {
  it('reads good certificates and skips a bad one, an empty file and an unreadable file, each with a warning naming it', async () => {
    const ca = join(dir, 'ca');
    await execa('mkdir', ['-p', join(dir, 'certs')]);
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=unit CA', '-keyout', `${ca}.key`, '-out', `${ca}.crt`]);
    const good = readFileSync(`${ca}.crt`, 'utf8');
    writeFileSync(join(dir, 'certs/good.crt'), good);
    writeFileSync(join(dir, 'certs/bad.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    writeFileSync(join(dir, 'certs/empty.pem'), '');
    writeFileSync(join(dir, 'certs/notes.txt'), 'not a cert, not read');
    writeFileSync(join(dir, 'certs/locked.crt'), good);
    chmodSync(join(dir, 'certs/locked.crt'), 0o000);
    const system = join(dir, 'system.crt');
    writeFileSync(system, `${good}\n${good}`);
    const r = await collectTrustedCas({ systemBundle: system, userDir: join(dir, 'certs') });
    expect(r.count).toBe(1); // the same CA everywhere, once
    expect(r.bundle).toContain('-----BEGIN CERTIFICATE-----');
    const warnings = r.warnings.join('\n');
    expect(warnings).toContain('bad.crt: certificate 1 does not parse');
    expect(warnings).toContain('empty.pem: no PEM certificate');
    if (process.getuid?.() !== 0) expect(warnings).toContain('locked.crt: cannot read it');
    expect(warnings).not.toContain('notes.txt');
    const missing = await collectTrustedCas({ systemBundle: join(dir, 'nope.crt'), userDir: join(dir, 'none') });
    expect(missing.warnings[0]).toMatch(/cannot read the system's CA bundle.*ca-certificates/);
  });

  it('reads a file again once it changed (each source keeps only its last reading)', async () => {
    const system = join(dir, 'changing.crt');
    const good = readFileSync(join(dir, 'ca.crt'), 'utf8');
    writeFileSync(system, good);
    const userDir = join(dir, 'no-user-certs');
    expect((await collectTrustedCas({ systemBundle: system, userDir })).count).toBe(1);
    expect((await collectTrustedCas({ systemBundle: system, userDir })).count).toBe(1);
    writeFileSync(system, `${good}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    const changed = await collectTrustedCas({ systemBundle: system, userDir });
    expect(changed.count).toBe(1);
    expect(changed.warnings.join('\n')).toContain('changing.crt: certificate 2 does not parse');
    writeFileSync(system, '');
    const emptied = await collectTrustedCas({ systemBundle: system, userDir });
    expect(emptied).toMatchObject({ count: 0, bundle: '' });
  });

  it('reads the PEM the Windows Root stores script prints (recorded shape: CRLF, line-broken base64)', async () => {
    const good = readFileSync(join(dir, 'ca.crt'), 'utf8');
    const body = good
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    const windows = `-----BEGIN CERTIFICATE-----\r\n${body.match(/.{1,76}/g)!.join('\r\n')}\r\n-----END CERTIFICATE-----\r\n`;
    expect(readPem(windows, 'Root').certs).toHaveLength(1);
  });
});

describe('the user-mode links', () => {
  it("gives WSL's NAT slirp4netns's places in a /20, with its DNS forwarder on and IPv4 only", () => {
    expect(WSL_NAT).toEqual({ address: '172.29.240.100', prefixLength: 20, gateway: '172.29.240.2', nameserver: '172.29.240.3' });
    const args = slirpArgs({ network: '172.29.240.0', prefixLength: 20, netns: '/run/ns', dns: true, readyFd: 3 });
    expect(args).toEqual(expect.arrayContaining(['--configure', '--cidr=172.29.240.0/20', '--ready-fd=3', '--mtu=65520']));
    expect(args).not.toContain('--disable-dns');
    expect(args).not.toContain('--enable-ipv6');
  });

  it("puts the engine at slirp4netns's .100 with the gateway at .2, its own DNS off", () => {
    expect(slirpAddresses({ network: '192.168.65.0', prefixLength: 24 })).toEqual({ address: '192.168.65.100', prefixLength: 24, gateway: '192.168.65.2', nameserver: '192.168.65.3' });
    expect(ENGINE_LINK.gateway).toBe('192.168.65.2');
    const args = slirpArgs({ network: '192.168.65.0', prefixLength: 24, netns: '/run/ns', dns: false });
    expect(args).toEqual(expect.arrayContaining(['--configure', '--disable-dns', '--netns-type=path', '--cidr=192.168.65.0/24']));
    expect(args.some((a) => a.startsWith('--ready-fd'))).toBe(false);
    expect(args.slice(-2)).toEqual(['/run/ns', 'eth0']);
  });

  it('names the Debian package when the helper is missing', async () => {
    await expect(findHelper('slirp4netns', ['/nonexistent'])).rejects.toThrow(/install Debian's `slirp4netns` package/);
  });

  it("writes WSL's resolv.conf naming the NAT's DNS forwarder", () => {
    expect(generatedResolvConf()).toMatch(/generateResolvConf = false\nnameserver 172\.29\.240\.3\n$/);
  });

  it("berth.yml names the engine link's gateway where the code does (resolv.conf, host-gateway, proxy)", () => {
    const yml = readFileSync(join(REPO, 'bootstrap-distro/linuxkit/berth.yml'), 'utf8');
    expect(yml).toContain(`nameserver ${ENGINE_LINK.gateway}`);
    expect(yml).toContain(`--host-gateway-ip=${ENGINE_LINK.gateway}`);
    expect(yml).toContain(`HTTP_PROXY=http://${ENGINE_LINK.gateway}:3128`);
  });
});
