import * as z from '../common/zod.js';
import { sharedPath } from '../common/shared-area.js';
import { readJsonFile } from '../common/json-file.js';

/** Where the manager publishes the proxy variables containers get (in the shared area). */
export const CONTAINERS_PROXY_FILE = sharedPath('containersProxy');

const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'] as const;
export const containersProxyEnvSchema = z.partialRecord(z.enum(PROXY_VARIABLES), z.string());
export type ContainersProxyEnv = z.infer<typeof containersProxyEnvSchema>;

/** The published variables; none when the file is missing. A malformed file is an error, not a guess. */
export function readContainersProxyEnv(file = CONTAINERS_PROXY_FILE): Promise<ContainersProxyEnv> {
  return readJsonFile(file, containersProxyEnvSchema, {
    missing: () => ({}),
    invalid: (why) => `${file}, the containers' proxy variables the manager publishes, is ${why === 'not JSON' ? 'not JSON' : 'not in the expected shape'}; \`berth restart\` writes it again`,
  });
}

/**
 * Adds the proxy variables to a `POST /containers/create` body, as the docker CLI's
 * `proxies` config does: a variable the request already sets, in either case, is kept.
 */
export function addProxyEnv(body: unknown, vars: ContainersProxyEnv): void {
  if (typeof body !== 'object' || body === null || Object.keys(vars).length === 0) return;
  const create = body as { Env?: unknown };
  const env = Array.isArray(create.Env) ? (create.Env as unknown[]).filter((e): e is string => typeof e === 'string') : [];
  const given = new Set(env.map((e) => e.split('=')[0]!.toUpperCase()));
  const added = Object.entries(vars)
    .filter(([name]) => !given.has(name.toUpperCase()))
    .map(([name, value]) => `${name}=${value}`);
  if (added.length) create.Env = [...env, ...added];
}
