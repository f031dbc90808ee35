import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { loadSettings } from '../settings.js';
import { answerApi, type ApiDeps } from './api.js';
import { streamContainerLogs } from './docker-routes.js';
import { submitForm } from './forms.js';
import { containerPage, page } from './page-model.js';
import { sendDiagnostics, streamBerthLogs } from './streams.js';
import { back, html, json, readBody } from './respond.js';
import { esc, logTools } from './html.js';
import { checkRequest, checkUpgrade, refuse, SECURITY_HEADERS, SESSION_COOKIE } from './guard.js';
import { refuseUpgrade, TERMINAL_PATH, upgradeTerminal } from './terminal.js';
import { isPageName, logPage, noticeFor, STYLESHEET } from './layout.js';
import { Sessions } from './sessions.js';
import { UsageSampler } from './usage.js';

const EVENT_POLL_MS = 500;
/** The bundled scripts and stylesheets (build-bundles.mjs): a plain file name, never a path. */
const ASSET = /^\/assets\/([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css))$/;

export interface Dashboard {
  port: number;
  url: string;
  /** A one-time login link (`berth dashboard` prints it). */
  loginUrl(): string;
  close(): void;
}

/** The status as the live script wants it: the backend's, plus the checkbox. */
async function liveStatus(deps: ApiDeps) {
  const [s, settings] = await Promise.all([deps.status(), loadSettings(deps.settingsFile)]);
  return {
    state: s.state,
    progress: s.progress,
    error: s.error,
    enabled: settings.wslEngine,
    integrations: s.integrations,
    paused: s.paused,
    diskFull: s.disk?.state === 'full' ? (s.disk.fix ?? 'Free space in it.') : undefined,
    proxyProblem: s.network?.proxy?.problem,
    update: s.update,
  };
}

/**
 * GET /api/v1/events: one Server-Sent Events stream per tab, an event each time the status
 * changes; with `?usage=1` (a page with charts), the history first (`usage-history`), then
 * each sample (`usage`).
 */
export function streamEvents(deps: ApiDeps, sampler: UsageSampler, url: URL, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
  if (url.searchParams.get('usage') === '1') {
    res.write(`event: usage-history\ndata: ${JSON.stringify(sampler.history())}\n\n`);
    const stop = sampler.subscribe((u) => res.write(`event: usage\ndata: ${JSON.stringify(u)}\n\n`));
    req.on('close', stop);
  }
  let last = '';
  let beats = 0;
  const tick = async () => {
    const now = JSON.stringify(await liveStatus(deps).catch((e: Error) => ({ state: 'failed', error: e.message })));
    if (now !== last) res.write(`event: status\ndata: ${now}\n\n`);
    else if (++beats % 30 === 0) res.write(': still here\n\n'); // keeps proxies and idle timers from closing it
    last = now;
  };
  void tick();
  const timer = setInterval(() => void tick(), EVENT_POLL_MS);
  req.on('close', () => clearInterval(timer));
}

/** GET of one of the dashboard's pages (or its home); false when the path is not one. */
async function answerPage(deps: ApiDeps, url: URL, res: ServerResponse): Promise<boolean> {
  // Home: Containers once the engine is on; before, Settings, where it is switched on.
  if (url.pathname === '/') return (back(res, (await loadSettings(deps.settingsFile)).wslEngine ? '/containers' : '/settings'), true);
  const pageName = url.pathname.slice(1);
  if (isPageName(pageName)) {
    const run = url.searchParams.get('run'); // the Images page's Run link: the image, filled in
    const extra = { runningOnly: url.searchParams.get('view') === 'running', notice: noticeFor(url.searchParams.get('done'), url.searchParams.get('freed')), ...(run ? { runForm: { image: run } } : {}) };
    html(res, 200, await page(deps, pageName, extra));
    return true;
  }
  const detail = /^\/containers\/([^/]+)$/.exec(url.pathname);
  if (detail) return (await containerPage(deps, decodeURIComponent(detail[1]!), res, noticeFor(url.searchParams.get('done'))), true);
  return false;
}

/**
 * The dashboard: `/api/v1` and the page, on 127.0.0.1 only, behind guard.ts. The same API
 * answers on the backend's root-only control socket, for the CLI.
 */
export async function serveDashboard(deps: ApiDeps, o: { port: number; assetsDir: string; log: (line: string) => void }): Promise<Dashboard> {
  const sessions = new Sessions();
  const sampler = new UsageSampler(deps.usage);
  let port = 0;
  const server: Server = createServer((req, res) => {
    const refusal = checkRequest(req, port, (id) => sessions.valid(id));
    if (refusal) {
      req.resume();
      return refuse(res, refusal);
    }
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    void route(req, res, url).catch((e: Error) => {
      o.log(`dashboard: ${req.method} ${url.pathname}: ${e.message}`);
      if (!res.headersSent) json(res, 500, { message: e.message });
    });
  });
  const route = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/login') {
      const session = sessions.login(url.searchParams.get('token') ?? '');
      if (!session) return html(res, 401, '<!doctype html><title>Berth</title><p>This login link was used already or has expired. Run <code>berth dashboard</code> for a new one.</p>');
      res.setHeader('set-cookie', `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`);
      return back(res, '/');
    }
    if (method === 'GET' && (await answerPage(deps, url, res))) return;
    if (method === 'GET' && url.pathname === '/favicon.ico') return void res.writeHead(204, SECURITY_HEADERS).end();
    if (method === 'GET' && url.pathname === '/assets/style.css') return void res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/css' }).end(STYLESHEET);
    const asset = ASSET.exec(url.pathname);
    if (method === 'GET' && asset) {
      const body = await readFile(join(o.assetsDir, asset[1]!)).catch(() => undefined);
      if (!body) return json(res, 404, { message: `no such asset: ${url.pathname}` });
      return void res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset[2] === 'css' ? 'text/css' : 'text/javascript' }).end(body);
    }
    if (method === 'GET' && url.pathname === '/api/v1/events') return streamEvents(deps, sampler, url, req, res);
    if (method === 'GET' && url.pathname === '/api/v1/logs') return streamBerthLogs(deps, url, req, res);
    if (method === 'GET' && url.pathname === '/api/v1/diagnostics') return sendDiagnostics(deps, res);
    const containerLogs = /^\/(api\/v1\/)?containers\/([^/]+)\/logs$/.exec(url.pathname);
    if (method === 'GET' && containerLogs) {
      const id = decodeURIComponent(containerLogs[2]!);
      if (containerLogs[1]) return streamContainerLogs(deps.daemon, id, { download: url.searchParams.get('download') === '1' }, req, res, SECURITY_HEADERS);
      return html(res, 200, logPage(`Logs of ${id}`, `/api/v1/containers/${encodeURIComponent(id)}/logs`, logTools(`/api/v1/containers/${encodeURIComponent(id)}/logs?download=1`)));
    }
    if (method === 'GET' && url.pathname === '/logs') {
      const sources = url.searchParams.getAll('source').filter(Boolean);
      const query = sources.map((x) => `source=${encodeURIComponent(x)}`).join('&');
      const filter = `<form method="get" action="/logs"><label>Source <input name="source" value="${esc(sources.join(' '))}"></label><button>Filter</button></form>`;
      return html(res, 200, logPage('Berth logs', `/api/v1/logs${query ? `?${query}` : ''}`, filter + logTools()));
    }
    if (method === 'POST' && url.pathname.startsWith('/ui/')) return submitForm(deps, url.pathname, new URLSearchParams(await readBody(req)), res);
    if (url.pathname.startsWith('/api/v1')) return serveApi(deps, req, res, url.pathname);
    req.resume();
    return json(res, 404, { message: `no such page: ${url.pathname}` });
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => answerUpgrade(deps, { req, socket, head }, port, (id) => sessions.valid(id), o.log));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(o.port, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return { port, url: base, loginUrl: () => `${base}/login?token=${sessions.newLoginToken()}`, close: () => server.close() };
}

/** A request to upgrade the connection: only a container's terminal does, past guard.ts's WebSocket checks. */
function answerUpgrade(deps: ApiDeps, u: { req: IncomingMessage; socket: Duplex; head: Buffer }, port: number, sessionValid: (id: string | undefined) => boolean, log: (line: string) => void): void {
  u.socket.on('error', () => u.socket.destroy()); // a browser gone mid-handshake
  const refusal = checkUpgrade(u.req, port, sessionValid);
  const url = new URL(u.req.url ?? '/', `http://127.0.0.1:${port}`);
  if (refusal) return refuseUpgrade(u.socket, refusal.status, refusal.message);
  if (!TERMINAL_PATH.test(url.pathname)) return refuseUpgrade(u.socket, 404, `nothing upgrades at ${url.pathname}; a container's terminal is at /api/v1/containers/ID/terminal`);
  void upgradeTerminal(deps.daemon, u.req, u.socket, u.head, url, log).catch((e: Error) => {
    log(`dashboard: terminal: ${e.message}`);
    u.socket.destroy();
  });
}

/** One /api/v1 request (JSON in and out), on either listener. */
export async function serveApi(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  let body: unknown;
  const text = await readBody(req);
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch (e) {
    return json(res, 400, { message: `the request body is not valid JSON (${(e as Error).message})` });
  }
  const answer = await answerApi(deps, req.method ?? 'GET', path, body);
  if (!answer) return json(res, 404, { message: `no such API route: ${req.method} ${path}; GET /api/v1 lists them` });
  json(res, answer.status, answer.body);
}
