import { isNamedVolume, splitBind } from './binds.js';
import { ProxyError } from './errors.js';

/** Where the daemon (in the LinuxKit root) finds what a client named. */
export interface PathTranslator {
  /**
   * The daemon's path for a client's source path. `createMissing` is Docker's `-v`
   * behaviour (a missing source directory is created); `--mount` fails instead.
   */
  toDaemon(source: string, options: { createMissing: boolean }): Promise<string>;
}

/** The daemon's own socket inside the root: what `-v /var/run/docker.sock:…` must mean. */
export const DAEMON_SOCKET_IN_ROOT = '/var/run/docker.sock';

interface MountSpec {
  Type?: string;
  Source?: string;
  [key: string]: unknown;
}

interface CreateBody {
  HostConfig?: { Binds?: unknown; Mounts?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}

/** A source as the user gave it and the daemon's path for it, to undo in responses. */
export interface PathMapping {
  client: string;
  daemon: string;
}

async function translateSource(source: string, translator: PathTranslator, createMissing: boolean): Promise<string> {
  if (source === '/var/run/docker.sock' || source === '/run/docker.sock') return DAEMON_SOCKET_IN_ROOT;
  return translator.toDaemon(source, { createMissing });
}

/**
 * Rewrites the bind sources of `POST /containers/create`: HostConfig.Binds and
 * HostConfig.Mounts of Type bind. Named volumes and everything else pass unchanged.
 */
export async function translateCreateBody(body: unknown, translator: PathTranslator): Promise<{ body: unknown; mappings: PathMapping[] }> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ProxyError(400, 'Berth: the container config must be a JSON object');
  }
  const create = body as CreateBody;
  const mappings: PathMapping[] = [];
  const host = create.HostConfig;
  if (host && Array.isArray(host.Binds)) {
    const binds: string[] = [];
    for (const bind of host.Binds as unknown[]) {
      if (typeof bind !== 'string') throw new ProxyError(400, 'Berth: HostConfig.Binds must hold strings like "src:dst[:opts]"');
      const { source, rest } = splitBind(bind);
      if (!rest || isNamedVolume(source)) {
        binds.push(bind);
        continue;
      }
      const daemon = await translateSource(source, translator, true);
      mappings.push({ client: source, daemon });
      binds.push(`${daemon}${rest}`);
    }
    host.Binds = binds;
  }
  if (host && Array.isArray(host.Mounts)) {
    for (const mount of host.Mounts as MountSpec[]) {
      if (mount?.Type !== 'bind' || typeof mount.Source !== 'string') continue;
      const daemon = await translateSource(mount.Source, translator, false);
      mappings.push({ client: mount.Source, daemon });
      mount.Source = daemon;
    }
  }
  return { body: create, mappings };
}

/** `POST /volumes/create` of the local driver with `o=bind` and a `device` path. */
export async function translateVolumeBody(body: unknown, translator: PathTranslator): Promise<unknown> {
  const vol = body as { Driver?: string; DriverOpts?: Record<string, string> } | null;
  const opts = vol?.DriverOpts;
  if (!vol || (vol.Driver && vol.Driver !== 'local') || !opts?.device || !/(^|,)(r?bind)(,|$)/.test(opts.o ?? '')) return body;
  opts.device = await translateSource(opts.device, translator, false);
  return vol;
}
