import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpRequest, openRequest, type HttpTarget } from '../../common/http-client.js';
import { COMPOSE_PROJECT, containerView } from './container-view.js';

/** What an /api/v1 route answers: a status and a JSON body. */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

/**
 * The Engine API actions the dashboard offers, and only these: an allowlist, never a
 * passthrough (a page that could send any Engine API request would have root). Each route
 * checks its names against a pattern before it becomes part of a daemon path.
 */
export const CONTAINER = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const IMAGE = /^(sha256:)?[a-f0-9]{12,64}$/;
const VOLUME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

interface DockerRoute {
  method: string;
  path: RegExp;
  name: string;
  check: RegExp | undefined;
  /** The daemon request for the matched name. */
  daemon: (name: string) => { method: 'GET' | 'POST' | 'DELETE'; path: string };
  /** Shapes the daemon's JSON for the page. */
  shape?: (json: unknown) => unknown;
  /** Asked of the host's Docker API (the translating proxy), for the user's own paths. */
  viaHost?: boolean;
  /** The same action for a daemon older than the request (it answers 400 naming what it lacks). */
  olderDaemon?: { refusal: RegExp; daemon: () => { method: 'GET' | 'POST' | 'DELETE'; path: string } };
}

type Json = Record<string, unknown>;
/** A container's published ports, each once: Docker lists a binding on 0.0.0.0 and on :: as two. */
function publishedPorts(list: unknown): Array<{ host: number; container: number; proto: string }> {
  const seen = new Map<string, { host: number; container: number; proto: string }>();
  for (const p of (list as Json[] | undefined) ?? []) {
    if (p.PublicPort) seen.set(`${Number(p.PublicPort)}/${String(p.Type)}`, { host: Number(p.PublicPort), container: Number(p.PrivatePort), proto: String(p.Type) });
  }
  return [...seen.values()];
}
const containers = (list: unknown) =>
  (list as Json[]).map((c) => ({
    id: String(c.Id).slice(0, 12),
    name: String((c.Names as string[] | undefined)?.[0] ?? '').replace(/^\//, ''),
    image: c.Image,
    state: c.State,
    status: c.Status,
    ports: publishedPorts(c.Ports),
    volumes: ((c.Mounts as Json[] | undefined) ?? []).filter((x) => x.Type === 'volume').map((x) => String(x.Name)),
    project: (c.Labels as Record<string, string> | undefined)?.[COMPOSE_PROJECT],
  }));
const images = (list: unknown) =>
  (list as Json[]).map((i) => ({
    id: String(i.Id)
      .replace(/^sha256:/, '')
      .slice(0, 12),
    tags: (i.RepoTags as string[] | null) ?? [],
    size: i.Size,
  }));
const volumes = (doc: unknown) => (((doc as Json).Volumes as Json[] | null) ?? []).map((v) => ({ name: v.Name, driver: v.Driver }));
type DfDoc = {
  LayersSize?: number;
  Images?: Array<{ Size?: number; SharedSize?: number; Containers?: number }>;
  Containers?: Array<{ SizeRw?: number; State?: string }>;
  Volumes?: Array<{ Name?: string; UsageData?: { Size?: number; RefCount?: number } }>;
  BuildCache?: Array<{ Size?: number; InUse?: boolean; Shared?: boolean }>;
};
/** Each kind's bytes, and what a prune would free of them (what `docker system df` calls reclaimable). */
const df = (doc: unknown) => {
  const d = doc as DfDoc;
  const sum = (xs: Array<number | undefined>) => xs.reduce<number>((a, b) => a + (b !== undefined && b > 0 ? b : 0), 0);
  const unusedImages = (d.Images ?? []).filter((i) => i.Containers === 0);
  const stopped = (d.Containers ?? []).filter((c) => c.State !== 'running');
  const unusedVolumes = (d.Volumes ?? []).filter((v) => v.UsageData?.RefCount === 0);
  return {
    // An unused image frees what it does not share with others.
    images: { count: d.Images?.length ?? 0, bytes: d.LayersSize ?? 0, reclaimable: sum(unusedImages.map((i) => (i.Size ?? 0) - Math.max(0, i.SharedSize ?? 0))) },
    containers: { count: d.Containers?.length ?? 0, bytes: sum((d.Containers ?? []).map((c) => c.SizeRw)), reclaimable: sum(stopped.map((c) => c.SizeRw)) },
    volumes: { count: d.Volumes?.length ?? 0, bytes: sum((d.Volumes ?? []).map((v) => v.UsageData?.Size)), reclaimable: sum(unusedVolumes.map((v) => v.UsageData?.Size)) },
    /** Each volume's size (-1: not measured by the daemon). */
    volumeBytes: Object.fromEntries((d.Volumes ?? []).map((v) => [String(v.Name), v.UsageData?.Size ?? -1])),
    buildCache: { bytes: sum((d.BuildCache ?? []).map((b) => b.Size)), reclaimable: sum((d.BuildCache ?? []).filter((b) => !b.InUse && !b.Shared).map((b) => b.Size)) },
  };
};
export type DiskUsage = ReturnType<typeof df>;
const filters = (f: Record<string, string[]>) => encodeURIComponent(JSON.stringify(f));

export const DOCKER_ROUTES: DockerRoute[] = [
  { method: 'GET', path: /^\/api\/v1\/containers$/, name: 'GET /api/v1/containers', check: undefined, daemon: () => ({ method: 'GET', path: '/containers/json?all=1' }), shape: containers },
  {
    method: 'GET',
    path: /^\/api\/v1\/containers\/([^/]+)$/,
    name: 'GET /api/v1/containers/{id}',
    check: CONTAINER,
    daemon: (id) => ({ method: 'GET', path: `/containers/${id}/json` }),
    shape: containerView,
    viaHost: true,
  },
  { method: 'POST', path: /^\/api\/v1\/containers\/([^/]+)\/start$/, name: 'POST /api/v1/containers/{id}/start', check: CONTAINER, daemon: (id) => ({ method: 'POST', path: `/containers/${id}/start` }) },
  { method: 'POST', path: /^\/api\/v1\/containers\/([^/]+)\/stop$/, name: 'POST /api/v1/containers/{id}/stop', check: CONTAINER, daemon: (id) => ({ method: 'POST', path: `/containers/${id}/stop` }) },
  { method: 'POST', path: /^\/api\/v1\/containers\/([^/]+)\/restart$/, name: 'POST /api/v1/containers/{id}/restart', check: CONTAINER, daemon: (id) => ({ method: 'POST', path: `/containers/${id}/restart` }) },
  { method: 'DELETE', path: /^\/api\/v1\/containers\/([^/]+)$/, name: 'DELETE /api/v1/containers/{id}', check: CONTAINER, daemon: (id) => ({ method: 'DELETE', path: `/containers/${id}?force=1` }) },
  { method: 'POST', path: /^\/api\/v1\/containers\/prune$/, name: 'POST /api/v1/containers/prune', check: undefined, daemon: () => ({ method: 'POST', path: '/containers/prune' }) },
  { method: 'POST', path: /^\/api\/v1\/build\/prune$/, name: 'POST /api/v1/build/prune', check: undefined, daemon: () => ({ method: 'POST', path: '/build/prune' }) },
  { method: 'GET', path: /^\/api\/v1\/images$/, name: 'GET /api/v1/images', check: undefined, daemon: () => ({ method: 'GET', path: '/images/json' }), shape: images },
  { method: 'DELETE', path: /^\/api\/v1\/images\/([^/]+)$/, name: 'DELETE /api/v1/images/{id}', check: IMAGE, daemon: (id) => ({ method: 'DELETE', path: `/images/${id}` }) },
  { method: 'POST', path: /^\/api\/v1\/images\/prune$/, name: 'POST /api/v1/images/prune', check: undefined, daemon: () => ({ method: 'POST', path: `/images/prune?filters=${filters({ dangling: ['false'] })}` }) },
  { method: 'GET', path: /^\/api\/v1\/volumes$/, name: 'GET /api/v1/volumes', check: undefined, daemon: () => ({ method: 'GET', path: '/volumes' }), shape: volumes },
  { method: 'DELETE', path: /^\/api\/v1\/volumes\/([^/]+)$/, name: 'DELETE /api/v1/volumes/{name}', check: VOLUME, daemon: (n) => ({ method: 'DELETE', path: `/volumes/${n}` }) },
  // `all`: named volumes too (API 1.42+, where a bare prune takes only anonymous ones); before
  // 1.42 a bare prune took every unused volume and the filter is refused.
  {
    method: 'POST',
    path: /^\/api\/v1\/volumes\/prune$/,
    name: 'POST /api/v1/volumes/prune',
    check: undefined,
    daemon: () => ({ method: 'POST', path: `/volumes/prune?filters=${filters({ all: ['true'] })}` }),
    olderDaemon: { refusal: /invalid filter 'all'/i, daemon: () => ({ method: 'POST', path: '/volumes/prune' }) },
  },
  { method: 'GET', path: /^\/api\/v1\/system\/df$/, name: 'GET /api/v1/system/df', check: undefined, daemon: () => ({ method: 'GET', path: '/system/df' }), shape: df },
];

/** One Engine API call: its JSON, or its refusal as a message. */
async function callDaemon(daemon: HttpTarget, call: { method: 'GET' | 'POST' | 'DELETE'; path: string }): Promise<ApiAnswer> {
  const res = await httpRequest(daemon, { method: call.method, path: call.path, timeoutMs: 60_000 }).catch((e: Error) => e);
  if (res instanceof Error) return { status: 503, body: { message: `the engine does not answer (${res.message}); is Berth running?` } };
  const json = res.body ? (JSON.parse(res.body) as unknown) : {};
  if (res.status >= 400) return { status: res.status, body: { message: (json as { message?: string }).message ?? `the engine answered ${res.status}` } };
  return { status: 200, body: json };
}

/** One allowlisted Engine action; undefined when the path is not one of them. */
export async function answerDocker(daemon: HttpTarget, method: string, path: string, host: HttpTarget = daemon): Promise<ApiAnswer | undefined> {
  for (const r of DOCKER_ROUTES) {
    const m = r.method === method ? r.path.exec(path) : null;
    if (!m) continue;
    const name = decodeURIComponent(m[1] ?? '');
    if (r.check && !r.check.test(name)) return { status: 400, body: { message: `not a valid name or id: ${JSON.stringify(name)}` } };
    let answer = await callDaemon(r.viaHost ? host : daemon, r.daemon(encodeURIComponent(name)));
    const message = (answer.body as { message?: string }).message ?? '';
    if (answer.status === 400 && r.olderDaemon?.refusal.test(message)) answer = await callDaemon(daemon, r.olderDaemon.daemon());
    return answer.status === 200 && r.shape ? { status: 200, body: r.shape(answer.body) } : answer;
  }
  return undefined;
}

/**
 * The text of a container's log stream: the daemon's 8-byte frame heads taken off (a
 * container without a TTY multiplexes stdout and stderr), or the bytes as they are (with one).
 */
function logText(tty: boolean, onText: (text: string) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (d) => {
    if (tty) return onText(d.toString('utf8'));
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32BE(4)) {
      const size = pending.readUInt32BE(4);
      onText(pending.subarray(8, 8 + size).toString('utf8'));
      pending = pending.subarray(8 + size);
    }
  };
}

/**
 * GET /api/v1/containers/{id}/logs: the last 500 lines, then new ones as they come, as
 * Server-Sent Events (`event: line`). With `?download=1`: the whole log, as a text file.
 */
export async function streamContainerLogs(daemon: HttpTarget, id: string, o: { download: boolean }, req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const refuse = (status: number, message: string) => void res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify({ message }));
  if (!CONTAINER.test(id)) return refuse(400, `not a valid container id: ${JSON.stringify(id)}`);
  const inspect = await httpRequest(daemon, { path: `/containers/${encodeURIComponent(id)}/json` });
  if (inspect.status !== 200) return refuse(404, `no such container: ${id}`);
  const doc = JSON.parse(inspect.body) as { Name?: string; Config?: { Tty?: boolean } };
  const query = o.download ? 'stdout=1&stderr=1&timestamps=1' : 'stdout=1&stderr=1&follow=1&tail=500';
  const logs = await openRequest(daemon, { path: `/containers/${encodeURIComponent(id)}/logs?${query}`, timeoutMs: 10_000 });
  if (o.download) {
    // The container's own name, which Docker limits to [a-zA-Z0-9_.-]: safe in the header.
    const name = (doc.Name ?? id).replace(/^\//, '').replace(/[^A-Za-z0-9_.-]/g, '_');
    res.writeHead(200, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-disposition': `attachment; filename="${name}.log"` });
    logs.on(
      'data',
      logText(Boolean(doc.Config?.Tty), (text) => res.write(text)),
    );
    logs.on('end', () => res.end());
  } else {
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
    let partial = '';
    const send = (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) res.write(`event: line\ndata: ${JSON.stringify(line)}\n\n`);
    };
    logs.on('data', logText(Boolean(doc.Config?.Tty), send));
    logs.on('end', () => res.end('event: end\ndata: {}\n\n'));
  }
  req.on('close', () => logs.destroy());
}
