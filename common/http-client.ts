import { request, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type * as z from './zod.js';
import { jsonOrUndefined } from './json-text.js';

/**
 * Where a request goes: a Unix socket's path, or a function that opens a stream to the
 * server (a relay through wsl.exe, a socket in another namespace). node:http drives either;
 * this module is Berth's one HTTP client.
 */
export type HttpTarget = string | (() => Promise<Duplex>);

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  path: string;
  /** Sent as JSON (with its content type), or as it is. */
  json?: unknown;
  /** Gives up (and closes the connection) after this long; a stream counts until its head. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Why a request failed: `unreachable` (no connection, no answer in time), `status` (the
 * server said no: `status` and its own message), `shape` (an answer that is not the JSON asked for).
 */
export type HttpFailure = 'unreachable' | 'status' | 'shape';

export class HttpError extends Error {
  constructor(
    message: string,
    readonly kind: HttpFailure,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpError';
  }
}

const DEFAULT_TIMEOUT_MS = 5000;

/** node:http's options that reach `target`. */
function connectionOf(target: HttpTarget): Pick<RequestOptions, 'socketPath' | 'createConnection'> {
  if (typeof target === 'string') return { socketPath: target };
  return {
    createConnection: ((_o: unknown, done: (err: Error | null, stream?: Duplex) => void) => {
      target().then(
        (stream) => done(null, stream),
        (e: unknown) => done(e as Error),
      );
      return undefined;
    }) as unknown as RequestOptions['createConnection'],
  };
}

/** Sends one request and resolves with the answer's head; the body is for the caller to read. */
export function openRequest(target: HttpTarget, req: HttpRequest): Promise<IncomingMessage> {
  const what = `${req.method ?? 'GET'} ${req.path}`;
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const body = req.json === undefined ? undefined : JSON.stringify(req.json);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { host: 'berth', connection: 'close' };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const outgoing = request({ ...connectionOf(target), method: req.method ?? 'GET', path: req.path, headers } as RequestOptions, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    const timer = setTimeout(() => outgoing.destroy(new HttpError(`no answer to ${what} within ${timeoutMs} ms`, 'unreachable')), timeoutMs);
    outgoing.on('error', (e) => {
      clearTimeout(timer);
      reject(e instanceof HttpError ? e : new HttpError(`${what}: ${e.message}`, 'unreachable', undefined, { cause: e }));
    });
    outgoing.end(body);
  });
}

/** The `message` of a JSON error body (the Engine API's and Berth's own), if it has one. */
function messageOf(text: string): string | undefined {
  const m = (jsonOrUndefined(text) as { message?: unknown } | null | undefined)?.message;
  return typeof m === 'string' ? m : undefined;
}

/**
 * One request that asks to upgrade the connection (`Upgrade: tcp`, as the Engine API's
 * attach and exec start take it); resolves with the raw connection once the server switches
 * (101), and rejects with the server's own message when it answers anything else.
 */
export function openUpgraded(target: HttpTarget, req: HttpRequest): Promise<Duplex> {
  const what = `${req.method ?? 'GET'} ${req.path}`;
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const body = req.json === undefined ? '' : JSON.stringify(req.json);
  return new Promise((resolve, reject) => {
    const headers = { host: 'berth', connection: 'Upgrade', upgrade: 'tcp', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const outgoing = request({ ...connectionOf(target), method: req.method ?? 'POST', path: req.path, headers });
    const timer = setTimeout(() => outgoing.destroy(new HttpError(`no answer to ${what} within ${timeoutMs} ms`, 'unreachable')), timeoutMs);
    outgoing.on('upgrade', (_res, socket, head) => {
      clearTimeout(timer);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    outgoing.on('response', (res) => {
      clearTimeout(timer);
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => {
        reject(new HttpError(`${what}: ${messageOf(text) ?? `status ${res.statusCode}`}`, 'status', res.statusCode));
      });
    });
    outgoing.on('error', (e) => {
      clearTimeout(timer);
      reject(e instanceof HttpError ? e : new HttpError(`${what}: ${e.message}`, 'unreachable', undefined, { cause: e }));
    });
    outgoing.end(body);
  });
}

/** One request; resolves with the status and the whole body, whatever the status. */
export async function httpRequest(target: HttpTarget, req: HttpRequest): Promise<HttpResponse> {
  const res = await openRequest(target, req);
  const chunks: Buffer[] = [];
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => res.destroy(new HttpError(`${req.method ?? 'GET'} ${req.path}: the answer did not end within ${timeoutMs} ms`, 'unreachable')), timeoutMs);
    res.on('data', (d: Buffer) => chunks.push(d));
    res.on('end', () => (clearTimeout(timer), resolve()));
    res.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
}

/**
 * One request whose 2xx answer is JSON of `schema`'s shape. A non-2xx answer throws an
 * HttpError carrying the server's own `message`, if it sent one.
 */
export async function httpJson<T>(target: HttpTarget, req: HttpRequest, schema: z.ZodType<T>): Promise<T> {
  const what = `${req.method ?? 'GET'} ${req.path}`;
  const res = await httpRequest(target, req);
  let json: unknown;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch (e) {
    throw new HttpError(`${what}: the answer is not JSON (status ${res.status})`, 'shape', res.status, { cause: e });
  }
  if (res.status < 200 || res.status > 299) {
    const message = typeof (json as { message?: unknown })?.message === 'string' ? (json as { message: string }).message : `status ${res.status}`;
    throw new HttpError(message, 'status', res.status);
  }
  const checked = schema.safeParse(json);
  if (!checked.success)
    throw new HttpError(`${what}: the answer does not have the expected shape: ${checked.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`, 'shape', res.status, {
      cause: checked.error,
    });
  return checked.data;
}

/** Like httpJson, but undefined where nothing answers or the answer is wrong: for probes. */
export function probeJson<T>(target: HttpTarget, req: HttpRequest, schema: z.ZodType<T>): Promise<T | undefined> {
  return httpJson(target, req, schema).catch(() => undefined);
}

/**
 * GETs a small text file by http(s) URL (a PAC file): the body on a 2xx, else an HttpError
 * naming the URL. `ca` is the trust to check an https server against (the host's bundle);
 * no redirect is followed, and a body over `maxBytes` is refused.
 */
export function fetchText(url: URL, o: { ca?: string; timeoutMs?: number; maxBytes?: number } = {}): Promise<string> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = o.maxBytes ?? 1 << 20;
  const send = url.protocol === 'https:' ? httpsRequest : request;
  return new Promise((resolve, reject) => {
    const fail = (message: string, kind: HttpFailure, status?: number, cause?: unknown) => reject(new HttpError(`${url.href}: ${message}`, kind, status, { cause }));
    const outgoing = send(url, { method: 'GET', headers: { connection: 'close' }, ...(o.ca ? { ca: o.ca } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        res.resume();
        clearTimeout(timer);
        return fail(`status ${status}${res.headers.location ? ` (a redirect to ${res.headers.location}: give that URL)` : ''}`, 'status', status);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > maxBytes) return outgoing.destroy(new HttpError(`${url.href}: larger than ${maxBytes} bytes`, 'shape'));
        chunks.push(d);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', (e) => fail(e.message, 'unreachable', undefined, e));
    });
    const timer = setTimeout(() => outgoing.destroy(new HttpError(`${url.href}: no answer within ${timeoutMs} ms`, 'unreachable')), timeoutMs);
    outgoing.on('error', (e) => {
      clearTimeout(timer);
      if (e instanceof HttpError) reject(e);
      else fail(e.message, 'unreachable', undefined, e);
    });
    outgoing.end();
  });
}
