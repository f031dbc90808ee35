import type { IncomingMessage, ServerResponse } from 'node:http';

export const SESSION_COOKIE = 'berth_session';

/** Headers on every answer: nothing framed, nothing leaked in Referer, scripts only from here. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

export interface Refusal {
  status: number;
  message: string;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The defences local dev servers have needed (DNS rebinding and CSRF hit the Node
 * inspector, Vite, webpack-dev-server): an exact Host allowlist (421), the Origin (or
 * Sec-Fetch-Site) of every unsafe request checked (403), and a session for all but the
 * login link (401). There are no CORS headers at all: no other origin may read an answer.
 */
export function checkRequest(req: IncomingMessage, port: number, sessionValid: (id: string | undefined) => boolean): Refusal | undefined {
  const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  const host = req.headers.host ?? '';
  if (!origins.some((o) => o === `http://${host}`)) return { status: 421, message: `this dashboard answers only at ${origins.join(' or ')}` };
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  // A page's own form sends `Origin: null` under Referrer-Policy: no-referrer; the browser's
  // Sec-Fetch-Site (which no page can set) then says whether it came from this origin.
  const ownOrigin = origin !== undefined && origins.includes(origin);
  if (origin !== undefined && origin !== 'null' && !ownOrigin) return { status: 403, message: `requests from ${origin} are refused` };
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return { status: 403, message: `cross-site requests (${site}) are refused` };
  if (UNSAFE.has(req.method ?? '') && !ownOrigin && site !== 'same-origin') return { status: 403, message: 'a change needs a same-origin Origin or Sec-Fetch-Site header' };
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/login' && req.method === 'GET') return undefined;
  if (!sessionValid(cookieValue(req.headers.cookie, SESSION_COOKIE))) return { status: 401, message: 'not logged in: open the link `berth dashboard` prints' };
  return undefined;
}

/**
 * A WebSocket upgrade: all of the above, and always this dashboard's own Origin. Browsers
 * send Origin on every WebSocket and apply no same-origin rule to one, so the Origin is the
 * only thing that tells a page of another site from our own.
 */
export function checkUpgrade(req: IncomingMessage, port: number, sessionValid: (id: string | undefined) => boolean): Refusal | undefined {
  const refusal = checkRequest(req, port, sessionValid);
  if (refusal) return refusal;
  if (![`http://127.0.0.1:${port}`, `http://localhost:${port}`].includes(req.headers.origin ?? '')) return { status: 403, message: "a WebSocket needs this dashboard's own Origin" };
  return undefined;
}

export function refuse(res: ServerResponse, r: Refusal): void {
  res.writeHead(r.status, { ...SECURITY_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify({ message: r.message }));
}
