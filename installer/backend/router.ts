import type { IncomingMessage, ServerResponse } from 'node:http';
import { SettingsError } from '../settings.js';
import { BACKEND_ROUTES, type BackendReply, type BackendRoute } from './api.js';
import type { Backend } from './backend.js';

type Handlers = { [R in BackendRoute]: () => Promise<BackendReply<R>> };

/** The control socket's routes (api.ts) onto the backend; every answer is checked against its schema. */
export function backendRouter(
  backend: Backend,
  onStop: () => void,
  dashboard: { loginUrl(): string; serveApi(req: IncomingMessage, res: ServerResponse): void },
): (req: IncomingMessage, res: ServerResponse) => void {
  const handlers: Handlers = {
    status: () => backend.status(),
    // A stopped engine (an idle backend, for the dashboard) starts; a failed one retries now.
    retry: async () => (backend.currentState === 'stopped' ? backend.start() : backend.retry(), { accepted: true as const }),
    reloadIntegrations: () => backend.reloadIntegrations(),
    reloadNetwork: () => backend.reloadNetwork(),
    stop: async () => (onStop(), { accepted: true as const }),
    dashboardLogin: async () => ({ url: dashboard.loginUrl() }),
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  return (req, res) => {
    // The dashboard's API answers here too, without the browser checks: this socket is root-only.
    if (req.url?.startsWith('/api/v1')) return dashboard.serveApi(req, res);
    req.resume();
    const route = (Object.keys(BACKEND_ROUTES) as BackendRoute[]).find((r) => BACKEND_ROUTES[r].method === req.method && BACKEND_ROUTES[r].path === req.url);
    if (!route) {
      const known = Object.values(BACKEND_ROUTES).map((r) => `${r.method} ${r.path}`).join(', ');
      return send(res, 404, { message: `no such endpoint: ${req.method} ${req.url}; use ${known}` });
    }
    (handlers[route] as () => Promise<unknown>)().then(
      (reply) => send(res, route === 'retry' || route === 'stop' ? 202 : 200, BACKEND_ROUTES[route].reply.parse(reply)),
      (e: Error) => send(res, e instanceof SettingsError ? 400 : 500, { message: e.message }),
    );
  };
}
