import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiDeps } from '../../installer/dashboard/api.js';
import { stubApiDeps } from '../helpers/dashboard-deps.js';
import { serveDashboard, type Dashboard } from '../../installer/dashboard/server.js';
import type { BackendStatus } from '../../installer/backend/status-schema.js';

let dir: string;
let dash: Dashboard;
const calls: string[] = [];
let state: BackendStatus['state'] = 'stopped';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-dashboard-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets/live.js'), '// live');
  const deps: ApiDeps = {
    ...stubApiDeps(dir),
    status: async () => ({ state, endpoint: 'unix:///x', services: [], integrations: [] }),
    startEngine: () => void ((state = 'starting'), calls.push('start')),
    stopEngine: async () => void ((state = 'stopped'), calls.push('stop')),
    restartEngine: async () => void ((state = 'starting'), calls.push('stop', 'start')),
    listDistros: async () => [
      { name: 'Ubuntu', state: 'Stopped', version: 2, isDefault: true },
      { name: 'berth', state: 'Running', version: 2, isDefault: false },
      { name: 'Old', state: 'Stopped', version: 1, isDefault: false },
    ],
    reset: async (kind) => void calls.push(`reset ${kind}`),
    dataDisk: { file: async () => '/x/ext4.vhdx', move: async (d) => void calls.push(`move ${d}`) },
  };
  dash = await serveDashboard(deps, { port: 0, assetsDir: join(dir, 'assets'), log: () => {} });
});
afterAll(() => {
  dash?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
function call(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: dash.port, method, path, headers: { host: `127.0.0.1:${dash.port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function login(): Promise<string> {
  const url = new URL(dash.loginUrl());
  const r = await call('GET', `${url.pathname}${url.search}`);
  expect(r.status).toBe(303);
  const cookie = String(r.headers['set-cookie']);
  expect(cookie).toMatch(/^berth_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\/$/);
  return cookie.split(';')[0]!;
}

/** A WebSocket handshake, by hand: the status it is answered with (101 when it upgrades), and the body of a refusal. */
function upgrade(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: dash.port,
      path,
      headers: { host: `127.0.0.1:${dash.port}`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the dashboard, over plain HTTP', () => {
  it('logs in once per token, and refuses without a session (401)', async () => {
    const url = new URL(dash.loginUrl());
    expect((await call('GET', '/api/v1/status')).status).toBe(401);
    expect((await call('GET', `${url.pathname}${url.search}`)).status).toBe(303);
    expect((await call('GET', `${url.pathname}${url.search}`)).status).toBe(401); // one use
    expect((await call('GET', '/login?token=guess')).status).toBe(401);
  });

  it('answers only to its own Host names (421), against DNS rebinding', async () => {
    const cookie = await login();
    for (const host of ['evil.example:80', `attacker.test:${dash.port}`, '127.0.0.1', `127.0.0.1.nip.io:${dash.port}`]) {
      expect((await call('GET', '/api/v1/status', { host, cookie })).status).toBe(421);
    }
    expect((await call('GET', '/api/v1/status', { host: `localhost:${dash.port}`, cookie })).status).toBe(200);
  });

  it('refuses a cross-origin change (403), and a change with neither Origin nor Sec-Fetch-Site', async () => {
    const cookie = await login();
    expect((await call('POST', '/api/v1/engine/start', { cookie, origin: 'http://evil.example' })).status).toBe(403);
    expect((await call('POST', '/api/v1/engine/start', { cookie, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await call('POST', '/api/v1/engine/start', { cookie })).status).toBe(403);
    expect((await call('POST', '/api/v1/engine/start', { cookie, origin: 'null' })).status).toBe(403);
    expect((await call('POST', '/api/v1/engine/start', { cookie, origin: 'null', 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await call('GET', '/api/v1/events', { cookie, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(calls).toEqual([]);
    const ok = await call('POST', '/api/v1/engine/start', { cookie, origin: `http://127.0.0.1:${dash.port}` });
    expect(ok.status).toBe(202);
    expect(calls).toEqual(['start']);
  });

  it("refuses a terminal's WebSocket from another origin, without an Origin, without a session, or at another Host", async () => {
    const cookie = await login();
    const own = `http://127.0.0.1:${dash.port}`;
    const terminal = '/api/v1/containers/web/terminal';
    expect(await upgrade(terminal, { cookie, origin: 'http://evil.example' })).toMatchObject({ status: 403, body: expect.stringContaining('http://evil.example are refused') });
    expect(await upgrade(terminal, { cookie, origin: `http://localhost:${dash.port + 1}` })).toMatchObject({ status: 403 });
    expect(await upgrade(terminal, { cookie })).toMatchObject({ status: 403, body: expect.stringContaining("needs this dashboard's own Origin") });
    expect(await upgrade(terminal, { cookie, origin: 'null' })).toMatchObject({ status: 403 });
    expect(await upgrade(terminal, { origin: own })).toMatchObject({ status: 401 });
    expect(await upgrade(terminal, { cookie, origin: own, host: `evil.example:${dash.port}` })).toMatchObject({ status: 421 });
    expect(await upgrade('/api/v1/containers/..%2F..%2Fexec/terminal', { cookie, origin: own })).toMatchObject({ status: 400, body: expect.stringContaining('not a valid container id') });
    expect(await upgrade('/api/v1/containers/%E0%A4/terminal', { cookie, origin: own })).toMatchObject({ status: 400, body: expect.stringContaining('not a valid container id') });
    expect(await upgrade(terminal, { cookie, origin: own, 'sec-websocket-key': 'short' })).toMatchObject({ status: 400, body: expect.stringContaining('Sec-WebSocket-Key') });
    expect(await upgrade('/api/v1/events', { cookie, origin: own })).toMatchObject({ status: 404 });
    // Past the guards, the terminal asks the engine (there is none here) and says so, before any WebSocket exists.
    expect(await upgrade(terminal, { cookie, origin: own })).toMatchObject({ status: 503, body: expect.stringContaining('POST /containers/web/exec') });
  });

  it('sends no CORS headers, and the page policy headers on every answer', async () => {
    const cookie = await login();
    for (const [method, path, headers] of [
      ['GET', '/', { cookie }],
      ['GET', '/settings', { cookie }],
      ['GET', '/containers?view=running&done=engine-start', { cookie }],
      ['GET', '/api/v1', { cookie }],
      ['OPTIONS', '/api/v1/status', { origin: 'http://evil.example' }],
      ['GET', '/nope', {}],
    ] as const) {
      const r = await call(method, path, headers);
      expect(Object.keys(r.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('refuses a reset without the typed word, and an id that is not one', async () => {
    const cookie = await login();
    const same = { cookie, origin: `http://127.0.0.1:${dash.port}`, 'content-type': 'application/json' };
    const r = await call('POST', '/api/v1/reset', same, JSON.stringify({ confirm: 'yes' }));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).message).toMatch(/type "reset" to confirm/);
    expect((await call('POST', '/api/v1/purge', same, JSON.stringify({ confirm: 'reset' }))).status).toBe(400); // each its own word
    expect(calls.filter((c) => c.startsWith('reset'))).toEqual([]);
    expect((await call('POST', '/api/v1/purge', same, JSON.stringify({ confirm: 'purge' }))).status).toBe(200);
    expect(calls.filter((c) => c.startsWith('reset'))).toEqual(['reset purge']);
    expect((await call('POST', '/api/v1/containers/..%2F..%2Fimages%2Fcreate/start', same)).status).toBe(400);
    expect((await call('DELETE', '/api/v1/images/busybox', same)).status).toBe(400); // ids only
    expect((await call('GET', '/api/v1/containers', { cookie })).status).toBe(503); // no engine here: said so
  });

  it('has no generic Engine API: a Docker route is not there', async () => {
    const cookie = await login();
    const same = { cookie, origin: `http://127.0.0.1:${dash.port}` };
    for (const path of ['/api/v1/docker/containers/json', '/api/v1/containers/create', '/v1.41/containers/json', '/containers/json']) {
      expect((await call('POST', path, same, '{}')).status).toBe(404);
    }
    expect(JSON.parse((await call('GET', '/api/v1', { cookie })).body).routes).toContain('GET /api/v1/status');
  });

  it('reports every invalid setting at once and saves none of them; lists WSL 2 user distros only', async () => {
    const cookie = await login();
    const same = { cookie, origin: `http://127.0.0.1:${dash.port}`, 'content-type': 'application/json' };
    const bad = await call('PUT', '/api/v1/settings', same, JSON.stringify({ logLevel: 'loud', drives: { cc: '/x' }, proxy: { mode: 'manual', http: 'not a url' } }));
    expect(bad.status).toBe(400);
    const issues = (JSON.parse(bad.body) as { issues: Array<{ path: string }> }).issues.map((i) => i.path);
    expect(issues).toEqual(expect.arrayContaining(['logLevel', 'drives.cc', 'proxy.http']));
    expect((await call('GET', '/api/v1/settings', { cookie })).body).not.toContain('loud');
    const good = await call('PUT', '/api/v1/settings', same, JSON.stringify({ logLevel: 'debug' }));
    expect(JSON.parse(good.body)).toMatchObject({ settings: { logLevel: 'debug' }, restartRequired: true });
    const distros = JSON.parse((await call('GET', '/api/v1/distros', { cookie })).body) as Array<{ name: string; disabled?: string }>;
    expect(distros.map((d) => d.name)).toEqual(['Ubuntu', 'Old']);
    expect(distros[1]!.disabled).toMatch(/WSL 1/);
  });

  it('serves each page at its own URL with its notice from a fixed list: words in a URL are never shown', async () => {
    const cookie = await login();
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ wslEngine: false }));
    const home = await call('GET', '/', { cookie });
    expect([home.status, home.headers.location]).toEqual([303, '/settings']); // not enabled: where it is switched on
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ wslEngine: true }));
    expect((await call('GET', '/', { cookie })).headers.location).toBe('/containers');
    for (const name of ['containers', 'images', 'volumes', 'engine', 'settings', 'troubleshoot']) {
      const page = await call('GET', `/${name}`, { cookie });
      expect(page.status, name).toBe(200);
      expect(page.body, name).toMatch(new RegExp(`<a href="/${name}" aria-current="page">`));
    }
    expect((await call('GET', '/settings?done=proxy', { cookie })).body).toContain('<p class="notice" role="status">Proxy settings saved; new connections use them.</p>');
    expect((await call('GET', '/volumes?done=volumes-prune&freed=1572864', { cookie })).body).toContain('>Unused volumes pruned. 1.5 MiB freed.</p>');
    expect((await call('GET', '/volumes?done=volumes-prune&freed=lots', { cookie })).body).toContain('>Unused volumes pruned.</p>');
    for (const done of ['<script>alert(1)</script>', 'Your password expired', 'constructor', '__proto__']) {
      const page = await call('GET', `/settings?done=${encodeURIComponent(done)}`, { cookie });
      expect(page.body, done).not.toContain('class="notice"');
    }
    // A header button comes back to the page it was pressed on, and only to a page.
    const same = { cookie, origin: `http://127.0.0.1:${dash.port}`, 'content-type': 'application/x-www-form-urlencoded' };
    expect((await call('POST', '/ui/engine/stop', same, 'from=volumes')).headers.location).toBe('/volumes?done=engine-stop');
    expect((await call('POST', '/ui/engine/stop', same, 'from=%2F%2Fevil.example')).headers.location).toBe('/containers?done=engine-stop');
    rmSync(join(dir, 'settings.json'));
  });
});
