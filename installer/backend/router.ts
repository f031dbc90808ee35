import type { IncomingMessage, ServerResponse } from 'node:http';
import { SettingsError } from '../settings.js';
import { CONTROL_ROUTES, type BackendReply, type ControlRoute } from './api.js';
import type { Backend } from './backend.js';
import { STATUS_CHANGE_MAX_WAIT_MS } from './phase.js';

type Handlers = { [R in ControlRoute]: (query: URLSearchParams) => Promise<BackendReply<R>> };

/** A request the route cannot take as it is: answered 400 with the message. */
class BadRequest extends Error {}

/** The control socket: /api/v1 (the dashboard's API, for the CLI too), and the CLI's own routes (api.ts), every answer checked against its schema. */
export function backendRouter(
  backend: Backend,
  onStop: () => void,
  dashboard: { loginUrl(): string; serveApi(req: IncomingMessage, res: ServerResponse): void; status(): Promise<BackendReply<'status'>> },
): (req: IncomingMessage, res: ServerResponse) => void {
  const handlers: Handlers = {
    reloadIntegrations: () => backend.reloadIntegrations(),
    reloadNetwork: () => backend.reloadNetwork(),
    stop: async () => (onStop(), { accepted: true as const }),
    statusChange: async (query) => {
      await backend.whenChanged({ state: query.get('state') ?? '', progress: query.get('progress') ?? '' }, waitMsOf(query));
      return dashboard.status();
    },
    dashboardLogin: async () => ({ url: dashboard.loginUrl() }),
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  return (req, res) => {
    // The dashboard's API answers here too, without the browser checks: this socket is root-only.
    if (req.url?.startsWith('/api/v1')) return dashboard.serveApi(req, res);
    req.resume();
    const url = new URL(req.url ?? '/', 'http://backend');
    const route = (Object.keys(CONTROL_ROUTES) as ControlRoute[]).find((r) => CONTROL_ROUTES[r].method === req.method && CONTROL_ROUTES[r].path === url.pathname);
    if (!route) {
      const known = [...Object.values(CONTROL_ROUTES).map((r) => `${r.method} ${r.path}`), 'GET /api/v1 (the API)'].join(', ');
      return send(res, 404, { message: `no such endpoint: ${req.method} ${req.url}; use ${known}` });
    }
    (handlers[route] as (query: URLSearchParams) => Promise<unknown>)(url.searchParams).then(
      (reply) => send(res, route === 'stop' ? 202 : 200, CONTROL_ROUTES[route].reply.parse(reply)),
      (e: Error) => send(res, e instanceof SettingsError || e instanceof BadRequest ? 400 : 500, { message: e.message }),
    );
  };
}

/** ?waitMs=: whole milliseconds, 0 to STATUS_CHANGE_MAX_WAIT_MS. */
function waitMsOf(query: URLSearchParams): number {
  const text = query.get('waitMs') ?? '0';
  const ms = Number(text);
  if (!/^\d+$/.test(text) || ms > STATUS_CHANGE_MAX_WAIT_MS) throw new BadRequest(`waitMs takes whole milliseconds from 0 to ${STATUS_CHANGE_MAX_WAIT_MS}, not "${text}"`);
  return ms;
}
