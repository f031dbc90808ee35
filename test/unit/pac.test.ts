import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePac, PacRouter, parsePacAnswer } from '../../installer/network/pac.js';
import { parseInternetSettings, upstreamFor } from '../../installer/network/upstream-proxy.js';

describe('a PAC file, run in the QuickJS sandbox', () => {
  it('answers per host: DIRECT, PROXY, HTTPS and lists in order (SOCKS skipped)', async () => {
    const pac = await compilePac(
      'function FindProxyForURL(url, host) { if (dnsDomainIs(host, ".corp")) return "PROXY a.corp:3128; SOCKS s:1080; DIRECT"; if (shExpMatch(url, "https://*")) return "HTTPS b:443"; return "DIRECT"; }',
      'test.pac',
    );
    try {
      expect(await pac.find('http://git.corp/x', 'git.corp')).toEqual(['http://a.corp:3128', 'DIRECT']);
      expect(await pac.find('https://example.org/', 'example.org')).toEqual(['https://b:443']);
      expect(await pac.find('http://example.org/', 'example.org')).toEqual(['DIRECT']);
    } finally {
      pac.dispose();
    }
    expect(parsePacAnswer('  proxy p:1 ;; direct ')).toEqual(['http://p:1', 'DIRECT']);
    expect(parsePacAnswer('')).toEqual(['DIRECT']);
  });

  it('gives the script no way out: no process, require, fetch; a loop is interrupted; memory is capped', async () => {
    const probe = await compilePac('function FindProxyForURL() { return "PROXY " + typeof process + typeof require + typeof fetch + ":1"; }', 'probe.pac');
    expect(await probe.find('http://a/', 'a')).toEqual(['http://undefinedundefinedundefined:1']);
    probe.dispose();
    const loop = await compilePac('function FindProxyForURL() { while (true) {} }', 'loop.pac');
    await expect(loop.find('http://a/', 'a')).rejects.toThrow(/interrupted/);
    // The PAC still answers afterwards: one bad call does not wedge the others.
    await expect(loop.find('http://b/', 'b')).rejects.toThrow(/interrupted/);
    loop.dispose();
    const hungry = await compilePac('function FindProxyForURL() { var a = []; while (true) a.push(new Array(100000).join("x")); }', 'hungry.pac');
    await expect(hungry.find('http://a/', 'a')).rejects.toThrow(/memory|interrupted/i);
    hungry.dispose();
  }, 20_000);

  it('refuses a file that does not parse or defines no FindProxyForURL, naming it', async () => {
    await expect(compilePac('function FindProxyForURL(', 'http://pac.corp/bad.pac')).rejects.toThrow(/^http:\/\/pac\.corp\/bad\.pac is not a PAC file Berth can run \(/);
    await expect(compilePac('var x = 1;', 'nofn.pac')).rejects.toThrow(/nofn\.pac is not a PAC file Berth can run .*FindProxyForURL/);
  });
});

describe('PacRouter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pac-'));
  let server: Server;
  let served = 'function FindProxyForURL(url, host) { return host === "a.test" ? "PROXY first:1; PROXY second:2; DIRECT" : "DIRECT"; }';
  let status = 200;
  let base = '';
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(status).end(served));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function router(url: string, up: Set<string>) {
    const problems: Array<string | undefined> = [];
    const r = new PacRouter({ url, ca: async () => undefined, refreshMs: 3_600_000, log: () => {}, problem: (p) => problems.push(p), isReachable: async (hp) => up.has(hp) });
    return { r, problems };
  }

  it('falls back along the list to the first proxy that accepts a connection, and follows a changed file at the next load', async () => {
    const up = new Set(['second:2']);
    const { r, problems } = router(`${base}/proxy.pac`, up);
    await r.start();
    try {
      expect(problems).toEqual([undefined]);
      expect(await r.upstreamFor('http://a.test/x', 'a.test')).toBe('http://second:2');
      expect(await r.upstreamFor('https://b.test/', 'b.test')).toBeUndefined();
      served = 'function FindProxyForURL(url, host) { return "PROXY second:2"; }';
      await r.load();
      expect(await r.upstreamFor('https://b.test/', 'b.test')).toBe('http://second:2');
    } finally {
      r.stop();
    }
  });

  it('keeps the last good file when the next cannot be fetched or does not run, and says so', async () => {
    served = 'function FindProxyForURL() { return "PROXY second:2"; }';
    status = 200;
    const { r, problems } = router(`${base}/proxy.pac`, new Set(['second:2']));
    await r.start();
    try {
      status = 404;
      await r.load();
      expect(problems.at(-1)).toBe(
        `cannot fetch the PAC file ${base}/proxy.pac (${base}/proxy.pac: status 404); the last good one stays in use. Check the URL with \`berth proxy pac URL\` (http://, https:// or file://).`,
      );
      expect(await r.upstreamFor('http://c.test/', 'c.test')).toBe('http://second:2');
      status = 200;
      served = 'function FindProxyForURL( {';
      await r.load();
      expect(problems.at(-1)).toMatch(/is not a PAC file Berth can run .*the last good one stays in use/);
      expect(await r.upstreamFor('http://d.test/', 'd.test')).toBe('http://second:2');
    } finally {
      r.stop();
    }
  });

  it('reads file:// URLs, and goes direct until a first good file loads', async () => {
    const file = join(dir, 'local.pac');
    const { r, problems } = router(pathToFileURL(file).href, new Set(['p:1']));
    await r.start();
    expect(problems.at(-1)).toMatch(/^cannot fetch the PAC file file:\/\/.*local\.pac \(.*ENOENT.*\); requests go direct until it loads/);
    expect(await r.upstreamFor('http://a/', 'a')).toBeUndefined();
    writeFileSync(file, 'function FindProxyForURL() { return "PROXY p:1"; }');
    await r.load();
    expect(problems.at(-1)).toBeUndefined();
    expect(await r.upstreamFor('http://a/', 'a')).toBe('http://p:1');
    r.stop();
  });
});

describe('the PAC as settings and as Windows has it', () => {
  it('is the upstream of mode "pac", and of "system" when Internet Settings name an AutoConfigURL', () => {
    expect(upstreamFor({ mode: 'pac', pac: 'http://wpad.corp/proxy.pac', exclude: ['.local'] }, {})).toEqual({ pac: 'http://wpad.corp/proxy.pac', exclude: ['.local'] });
    const reg = ['HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings', '    ProxyEnable    REG_DWORD    0x0', '    AutoConfigURL    REG_SZ    http://wpad.corp/proxy.pac', ''].join('\r\n');
    expect(parseInternetSettings(reg)).toEqual({ pac: 'http://wpad.corp/proxy.pac', exclude: [] });
  });
});
