import * as z from '../../common/zod.js';
import { httpRequest, type HttpTarget } from '../../common/http-client.js';
import { jsonOrUndefined } from '../../common/json-text.js';
import { isNamedVolume, splitBind } from '../../wsl-proxy/binds.js';
import type { ApiAnswer } from './docker-routes.js';

/** A published port as the page takes it: `8080:80`, `5353:53/udp`, or `80` (any free port on the host). */
const PORT = /^(?:(\d{1,5}):)?(\d{1,5})(?:\/(tcp|udp))?$/;
/** Docker's own rule for a container name. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/** POST /api/v1/containers/run: what to run, as the Images page's form gives it. */
export const runRequestSchema = z
  .object({
    image: z.string().trim().min(1, 'name the image to run').max(255),
    name: z.string().regex(NAME, 'a container name is letters, digits and _ . - (starting with a letter or digit)').optional(),
    command: z.array(z.string().min(1)).max(64).optional(),
    ports: z
      .array(
        z
          .string()
          .regex(PORT, 'a port is HOST:CONTAINER (8080:80), CONTAINER alone (any free host port), with /udp for UDP')
          .refine((p) => (PORT.exec(p)?.slice(1, 3) ?? []).every((n) => n === undefined || (Number(n) >= 1 && Number(n) <= 65535)), 'a port number is 1 to 65535'),
      )
      .max(32)
      .default([]),
    mounts: z
      .array(z.string().refine((m) => /^.+:\/.*$/.test(m), 'a mount is SOURCE:/path/in/container, SOURCE a volume name or an absolute path (C:\\Users\\me\\site, /home/me/site)'))
      .max(16)
      .default([]),
  })
  .strict();
export type RunRequest = z.infer<typeof runRequestSchema>;

/** The Engine API's create body for a run request. */
export function createBody(r: RunRequest): Record<string, unknown> {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of r.ports) {
    const [, host, container, proto] = PORT.exec(p)!;
    const key = `${Number(container)}/${proto ?? 'tcp'}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: '', HostPort: host ? String(Number(host)) : '' });
  }
  return { Image: r.image, ...(r.command ? { Cmd: r.command } : {}), ExposedPorts: exposed, HostConfig: { PortBindings: bindings, Binds: r.mounts } };
}

/** The field a refusal belongs to on the page, from the engine's or Berth's message. */
export function fieldOf(message: string): 'image' | 'name' | 'ports' | 'mounts' {
  if (/no such image|pull access denied|invalid reference format|repository does not exist/i.test(message)) return 'image';
  if (/name .* is already in use|container name/i.test(message)) return 'name';
  if (/port|address already in use/i.test(message)) return 'ports';
  return /mount|bind|volume|shared drive|absolute path/i.test(message) ? 'mounts' : 'image';
}

/**
 * Creates and starts a container, as `docker run -d` from the host would: through the host's
 * Docker API (host), which translates host paths in binds and claims the published ports on
 * localhost. A container that was created but would not start is removed again: nothing the
 * user did not see running is left behind.
 */
export async function runContainer(host: HttpTarget, r: RunRequest): Promise<ApiAnswer> {
  for (const m of r.mounts) {
    const { source } = splitBind(m);
    if (!isNamedVolume(source) && !/^(?:[A-Za-z]:[\\/]|\/|\\\\)/.test(source))
      return { status: 400, body: { message: `${source} is not an absolute path: give the whole path (C:\\Users\\me\\site or /home/me/site), or a volume name` } };
  }
  const query = r.name ? `?name=${encodeURIComponent(r.name)}` : '';
  const created = await httpRequest(host, { method: 'POST', path: `/containers/create${query}`, json: createBody(r), timeoutMs: 60_000 }).catch((e: Error) => e);
  if (created instanceof Error) return { status: 503, body: { message: `the engine does not answer (${created.message}); is Berth running?` } };
  const doc = (jsonOrUndefined(created.body) ?? {}) as { Id?: string; message?: string };
  if (created.status >= 300 || !doc.Id) return { status: created.status >= 400 ? created.status : 500, body: { message: doc.message ?? `the engine answered ${created.status}` } };
  const started = await httpRequest(host, { method: 'POST', path: `/containers/${doc.Id}/start`, timeoutMs: 60_000 }).catch((e: Error) => e);
  if (started instanceof Error || started.status >= 300) {
    await httpRequest(host, { method: 'DELETE', path: `/containers/${doc.Id}?force=1` }).catch(() => undefined);
    const why = started instanceof Error ? started.message : (((jsonOrUndefined(started.body) ?? {}) as { message?: string }).message ?? `status ${started.status}: ${started.body.trim()}`);
    return { status: started instanceof Error ? 503 : started.status, body: { message: `${why} (the container did not start and was removed)` } };
  }
  return { status: 201, body: { id: doc.Id.slice(0, 12) } };
}

/** The route, for api.ts: the body checked, every problem named at once. */
export async function answerRun(host: HttpTarget, body: unknown): Promise<ApiAnswer> {
  const r = runRequestSchema.safeParse(body);
  if (!r.success)
    return {
      status: 400,
      body: { message: r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '), issues: r.error.issues.map((i) => ({ path: String(i.path[0] ?? ''), message: i.message })) },
    };
  return runContainer(host, r.data);
}
