import * as z from '../../common/zod.js';
import { backendStatusSchema, networkStatusSchema } from './status-schema.js';

/**
 * The backend's control socket: each route with the schema of its answer, one table for the
 * server (router.ts) and the client (client.ts). `status` and `start` are the dashboard's
 * /api/v1 routes (the CLI and the page use one API); the rest are for the CLI only.
 */
const accepted = z.object({ accepted: z.literal(true) }).strict();
export const integrationStatusSchema = z.object({ distro: z.string(), state: z.string(), detail: z.string().optional() });

export const CONTROL_ROUTES = {
  /** `berth integrate`: the settings changed; answered once the integrations match them. */
  reloadIntegrations: { method: 'POST', path: '/integrations/reload', reply: z.array(integrationStatusSchema) },
  /** `berth proxy`: the proxy settings changed; the internal proxies follow, nothing restarts. */
  reloadNetwork: { method: 'POST', path: '/network/reload', reply: networkStatusSchema },
  stop: { method: 'POST', path: '/stop', reply: accepted },
  /** `berth start`: GET /api/v1/status's answer once the state or the progress is not ?state= and ?progress=, or after ?waitMs= (at most 5000). */
  statusChange: { method: 'GET', path: '/status/change', reply: backendStatusSchema },
  /** `berth dashboard`: a one-time login link to the dashboard on 127.0.0.1. */
  dashboardLogin: { method: 'POST', path: '/dashboard/login', reply: z.object({ url: z.string().url() }).strict() },
} as const;

export const BACKEND_ROUTES = {
  ...CONTROL_ROUTES,
  status: { method: 'GET', path: '/api/v1/status', reply: backendStatusSchema },
  /** `berth start`: start a stopped engine, or after a failure try again now rather than at the next backoff step. */
  start: { method: 'POST', path: '/api/v1/engine/start', reply: backendStatusSchema },
  /** `berth data resize|move`: the engine stops, the backend stays. */
  stopEngine: { method: 'POST', path: '/api/v1/engine/stop', reply: backendStatusSchema },
} as const;

export type ControlRoute = keyof typeof CONTROL_ROUTES;
export type BackendRoute = keyof typeof BACKEND_ROUTES;
export type BackendReply<R extends BackendRoute> = z.infer<(typeof BACKEND_ROUTES)[R]['reply']>;
