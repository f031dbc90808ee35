import { httpRequest, type HttpTarget } from '../../common/http-client.js';
import { COMPOSE_PROJECT } from './container-view.js';
import type { ApiAnswer } from './docker-routes.js';

/** Compose's own rule for a project name: lowercase letters, digits, dashes and underscores. */
const PROJECT = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ROUTE = /^\/api\/v1\/projects\/([^/]+)(?:\/(start|stop))?$/;

export const PROJECT_ROUTES = ['POST /api/v1/projects/{name}/start', 'POST /api/v1/projects/{name}/stop', 'DELETE /api/v1/projects/{name}'];

/**
 * A compose project's containers (those labelled com.docker.compose.project=NAME) started,
 * stopped or deleted together, one Engine call each, as `docker compose start|stop|rm -f`
 * would. Undefined when the path is not a project route.
 */
export async function answerProject(daemon: HttpTarget, method: string, path: string): Promise<ApiAnswer | undefined> {
  const m = ROUTE.exec(path);
  const verb = m?.[2] ? (method === 'POST' ? m[2] : undefined) : method === 'DELETE' ? 'delete' : undefined;
  if (!m || !verb) return undefined;
  const name = decodeURIComponent(m[1]!);
  if (!PROJECT.test(name)) return { status: 400, body: { message: `not a compose project name: ${JSON.stringify(name)}` } };
  const filters = encodeURIComponent(JSON.stringify({ label: [`${COMPOSE_PROJECT}=${name}`] }));
  const list = await httpRequest(daemon, { path: `/containers/json?all=1&filters=${filters}` }).catch((e: Error) => e);
  if (list instanceof Error || list.status !== 200) return { status: 503, body: { message: `the engine does not answer; is Berth running?` } };
  const ids = (JSON.parse(list.body) as Array<{ Id: string }>).map((c) => c.Id);
  if (ids.length === 0) return { status: 404, body: { message: `no containers of the project ${name}` } };
  const failed: string[] = [];
  for (const id of ids) {
    const call = verb === 'delete' ? { method: 'DELETE' as const, path: `/containers/${id}?force=1` } : { method: 'POST' as const, path: `/containers/${id}/${verb}` };
    const r = await httpRequest(daemon, { ...call, timeoutMs: 60_000 }).catch((e: Error) => e);
    // 304: already in that state.
    if (r instanceof Error || (r.status >= 400 && r.status !== 304)) failed.push(`${id.slice(0, 12)}: ${r instanceof Error ? r.message : r.body.trim()}`);
  }
  if (failed.length) return { status: 500, body: { message: `${verb} of the project ${name} failed for ${failed.join('; ')}` } };
  return { status: 200, body: { project: name, containers: ids.length } };
}
