import { mkdir, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import type { WslHost } from '../wsl-host/host.js';
import { drivesFromEnv } from '../wsl-host/linux/config.js';
import type { ContainersProxyEnv } from '../wsl-proxy/containers-proxy-env.js';
import { listenUnix, ROOT_ONLY, type SocketAccess } from '../common/unix-socket.js';
import { credentialRoute } from '../wsl-proxy/credential-route.js';
import { CREDENTIALS_ROUTE, type CredentialReply, type CredentialRequest } from '../common/credential-messages.js';
import { createDockerProxy } from '../wsl-proxy/docker-proxy.js';
import { HostDriveTranslator } from '../wsl-proxy/host-translator.js';
import { rewriteInspect } from '../wsl-proxy/inspect.js';
import { requestedPorts } from '../wsl-proxy/port-claims.js';
import type { PortRequest } from '../common/port-forward/claim-messages.js';
import type { Duplex } from 'node:stream';
import { EngineWaker } from '../common/engine-waker.js';
import { BERTH_DISTRO } from './distros.js';
import { AGENT_SOCKET, DAEMON_SOCKET } from './engine.js';
import type { Settings } from './settings.js';

/**
 * The shared drives, letter → host directory: the settings' `drives`, or else the drives
 * the WSL host mounts (on Linux, BERTH_WSL_DRIVES and its default).
 */
export function sharedDrives(settings: Settings, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (Object.keys(settings.drives).length > 0) return settings.drives;
  if (process.platform === 'win32') return {};
  return Object.fromEntries(drivesFromEnv(env).map((d) => [d.letter, d.hostPath]));
}

/**
 * The Docker API on the host (a Unix socket here; on Windows the same code listens on the
 * named pipe \\.\pipe\berth_engine): the Docker API proxy in host mode, carrying each
 * connection to the daemon through WslHost.connect and translating host paths in bind
 * mounts to the daemon's view of the shared drives.
 */
export async function serveHostEndpoint(
  wsl: WslHost,
  path: string,
  drives: Record<string, string>,
  log: (line: string) => void,
  ports: { claim: (ports: PortRequest[]) => Promise<void>; started: () => Promise<void> },
  containerEnv: () => Promise<ContainersProxyEnv>,
  /** docker-credential-berth on the host: the manager's credential store, directly. */
  credentials: (request: CredentialRequest) => Promise<CredentialReply>,
): Promise<Server> {
  if (process.platform !== 'win32') {
    await mkdir(dirname(path), { recursive: true });
    await rm(path, { force: true });
  }
  const daemon = () => wsl.connect(BERTH_DISTRO, DAEMON_SOCKET);
  const waker = new EngineWaker(() => wsl.connect(BERTH_DISTRO, AGENT_SOCKET));
  const translator = new HostDriveTranslator(drives);
  const server = createDockerProxy({
    connectDaemon: daemon,
    beforeRequest: () => waker.beforeRequest(),
    translator,
    rewriteInspect: (c) => rewriteInspect(c, (p) => translator.toClient(p)),
    log,
    beforeStart: async (id) => ports.claim(await requestedPorts(daemon, id)),
    afterStart: () => ports.started(),
    containerEnv,
    berthRoutes: { [CREDENTIALS_ROUTE]: credentialRoute(credentials) },
  });
  if (process.platform === 'win32') await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  // Root and the host's docker group, as dockerd's own socket is.
  else await listenUnix(server, path, await hostDockerGroupAccess());
  return server;
}

/**
 * A connection to dockerd for a user's request (the host endpoint, the dashboard): Resource
 * Saver hears of it first, and a paused engine is resumed before it is sent.
 */
export function wakingDaemon(wsl: WslHost): () => Promise<Duplex> {
  const waker = new EngineWaker(() => wsl.connect(BERTH_DISTRO, AGENT_SOCKET));
  return async () => {
    await waker.beforeRequest();
    return wsl.connect(BERTH_DISTRO, DAEMON_SOCKET);
  };
}

/** 0660 with the host's `docker` group when it has one; root only otherwise. */
async function hostDockerGroupAccess(): Promise<SocketAccess> {
  const groups = await readFile('/etc/group', 'utf8').catch(() => '');
  const docker = groups.split('\n').find((l) => l.startsWith('docker:'));
  const gid = Number(docker?.split(':')[2]);
  return Number.isInteger(gid) ? { mode: 0o660, gid } : ROOT_ONLY;
}
