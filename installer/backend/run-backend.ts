import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { listenUnix, ROOT_ONLY } from '../../common/unix-socket.js';
import { sharedPath } from '../../common/shared-area.js';
import type { WslHost } from '../../wsl-host/host.js';
import { ensureDockerContext } from '../docker-context.js';
import { BERTH_DISTRO, DATA_DISTRO, dataDiskOf, installDistros, readState, type InstallState } from '../distros.js';
import { AutoTrim } from '../../data-distro/auto-trim.js';
import { containersCgroupParent, DAEMON_SOCKET, Engine, engineCgroupName } from '../engine.js';
import type { HomeLayout } from '../home.js';
import { serveHostEndpoint, sharedDrives } from '../host-endpoint.js';
import { ensureImages } from '../images.js';
import { Integrations } from '../integrations.js';
import { managerLogger } from '../log.js';
import type { Logger } from 'winston';
import { EngineNetwork } from '../network/engine-network.js';
import { CredentialStore, CredentialsSocket } from '../credentials.js';
import { movePasswordsOutOfSettings } from '../secrets.js';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { PortForwards } from '../ports.js';
import { RELAY_BINARY } from '../images/inputs.js';
import { logUnhandled } from '../../common/unhandled.js';
import { withLock } from '../../common/lock.js';
import { GIB, type DataDisk } from '../../data-distro/data-disk.js';
import { DISTRO_NAME, loadSettings, readSettingsFile, unknownKeysWarning, type Settings } from '../settings.js';
import { sharedAreaOnHost } from '../wsl.js';
import { BERTH_REPO } from '../repo.js';
import { watchOwnCode } from './update-check.js';
import { join } from 'node:path';
import type { ApiDeps } from '../dashboard/api.js';
import { EngineConfigStore } from '../engine-config/store.js';
import { settleAsDaemon } from '../../common/settle-daemon.js';
import { Backend } from './backend.js';
import type { BackendParts } from './parts.js';
import { systemClock } from './clock.js';
import { backendRouter } from './router.js';

/** A trim waits this long for a resize or move of berth-data to end (a move copies the whole disk). */
const TRIM_LOCK_WAIT_MS = 30 * 60_000;

/**
 * `berth backend`: started detached by `berth start`/`enable`. Wires the real parts into the
 * Backend state machine, serves the host endpoint and the control socket, and runs until
 * stopped (POST /stop, SIGTERM, SIGINT).
 */
export async function runBackend(home: HomeLayout, wsl: WslHost, options: { idle?: boolean } = {}): Promise<number> {
  const { settings, logger, info } = await settingsAndLog(home);
  const engine = new Engine(wsl, info);
  // The host's TCP listeners are berth-relay's on Linux; on Windows the host reaches the VM through wsl.exe (Node's listeners).
  const ports = new PortForwards(wsl, (l) => info('ports', l), process.platform === 'win32' ? undefined : RELAY_BINARY);
  const network = engineNetwork(home, wsl, info, (l) => backend.event(l));
  await network.configure(settings);
  await network.watchCertificates();
  const shared = sharedAreaOnHost();
  const credentialStore = new CredentialStore(home.credentials, (l) => info('manager', l));
  // `running` waits for `docker --context berth`, and for the host endpoint served below.
  let endpointServed = () => {};
  const endpointReady = Promise.all([dockerContext(home, info, logger), new Promise<void>((resolve) => (endpointServed = resolve))]).then(() => undefined);
  const engineCgroup = engineCgroupName(home.root);
  const engineConfig = new EngineConfigStore(join(home.root, 'daemon.json'), wsl, { 'cgroup-parent': containersCgroupParent(engineCgroup) });
  const dataDisk = async () => dataDiskOf(wsl, home, await readState(home.state).catch((): InstallState => ({})));
  const autoTrim = startAutoTrim(home, wsl, dataDisk, info);
  const backend = new Backend(
    {
      syncEngineConfig: () => engineConfig.sync(),
      engineCgroup,
      install: (progress, warn) => install(home, wsl, engine, progress, warn),
      engine,
      network,
      ports: portsPart(ports, shared, engine),
      credentials: new CredentialsSocket(credentialStore, shared && sharedPath('credentialsSocket', shared), (l) => info('manager', l)),
      integrations: new Integrations(wsl, info),
      integratedDistros: (s) => integratedDistros(wsl, s, (l) => logger.warn(l)),
      loadSettings: () => loadSettings(home.settings),
      endpointReady,
      clock: systemClock,
      log: { info, warn: (l) => logger.warn(l), error: (l) => logger.error(l) },
      endpoint: `unix://${home.dockerSocket}`,
      diskImageBytes: async () => (await dataDisk()).allocatedBytes(),
    },
    settings,
  );

  const servers: Array<{ close(): unknown }> = [];
  const { shutdown, finished } = shutdownWhenAsked(home, backend, () => autoTrim.stop(), servers, logger);
  // The bring-up before the servers: its steps wait on WSL, and the servers took ~20 ms of a
  // cold start's path. It says running only once the host endpoint serves (endpointReady).
  // Idle: `berth dashboard` with the engine switched off; the page turns it on.
  if (!options.idle) backend.start();
  await serveOrStop(backend, servers, [
    // Loaded once the bring-up has begun: the dashboard's modules are not on a start's path.
    async () => {
      const { apiDeps } = await import('./dashboard-api.js');
      const api = apiDeps({ home, wsl, backend, engineConfig, dataDisk, info, logger, updated: await watchOwnCode(process.argv[1] ?? '') });
      return serveDashboardAndControl(home, backend, api, shutdown, info, logger);
    },
    async () => [await serveHostApi(home, wsl, settings, { ports, network, credentialStore }, info)],
  ]);
  endpointServed();
  settleAsDaemon();
  const code = await finished;
  logger.end();
  return code;
}

/**
 * Each server, added to `servers` once it listens. One that cannot listen stops the backend,
 * and the engine with it (one the bring-up started, or one from an earlier run it attached
 * to): no socket would reach Berth, and nothing would stop it later.
 */
export async function serveOrStop(backend: Backend, servers: Array<{ close(): unknown }>, listen: Array<() => Promise<Array<{ close(): unknown }>>>): Promise<void> {
  try {
    for (const serve of listen) servers.push(...(await serve()));
  } catch (e) {
    await backend.stop();
    throw e;
  }
}

/** The engine's networking on the host: the link, Berth DNS, the internal proxies, the CAs. */
function engineNetwork(home: HomeLayout, wsl: WslHost, info: (source: string, line: string) => void, event: (line: string) => void): EngineNetwork {
  return new EngineNetwork({
    wsl,
    sharedArea: sharedAreaOnHost(),
    runDir: home.runDir,
    logsDir: home.logsDir,
    certsDir: home.certsDir,
    certsDDir: home.certsDDir,
    secretsFile: home.secrets,
    log: (l) => info('network', l),
    event,
    relayBinary: RELAY_BINARY,
  });
}

/** The published ports as the backend drives them: the claim socket in the shared area, when the host sees it. */
function portsPart(ports: PortForwards, shared: string | undefined, engine: Engine): BackendParts['ports'] {
  return {
    start: () => ports.start(shared && sharedPath('portsSocket', shared), engine.startedAnew),
    stop: () => ports.stop(),
    get error() {
      return ports.error;
    },
  };
}

/** The Docker API on the host, translating the shared drives' paths. */
function serveHostApi(
  home: HomeLayout,
  wsl: WslHost,
  settings: Settings,
  o: { ports: PortForwards; network: EngineNetwork; credentialStore: CredentialStore },
  info: (source: string, line: string) => void,
): Promise<{ close(): unknown }> {
  return serveHostEndpoint(
    wsl,
    home.dockerSocket,
    sharedDrives(settings),
    (l) => info('endpoint', l),
    { claim: (p) => o.ports.claim(p), started: () => o.ports.containerStarted() },
    async () => o.network.containersEnv(),
    (r) => o.credentialStore.handle(r),
  );
}

/**
 * The backend's end, on SIGTERM, SIGINT or POST /stop: the engine stopped, what could not be
 * undone written down for `berth stop`, every server closed and its socket removed.
 */
function shutdownWhenAsked(home: HomeLayout, backend: Backend, stopTrim: () => void, servers: Array<{ close(): unknown }>, logger: Logger): { shutdown: () => void; finished: Promise<number> } {
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const shutdown = () =>
    void backend.stop().then(async () => {
      stopTrim();
      await writeFileAtomic(home.stopReport, `${JSON.stringify({ problems: backend.stopProblems })}\n`).catch((e: Error) => logger.error(`cannot write ${home.stopReport}: ${e.message}`, { source: 'manager' }));
      for (const s of servers) s.close();
      await rm(home.dockerSocket, { force: true });
      await rm(home.backendSocket, { force: true });
      finish(0);
    });
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return { shutdown, finished };
}

/** The settings, their proxy passwords moved out first, and the manager's log, which says what the reading found. */
async function settingsAndLog(home: HomeLayout): Promise<{ settings: Settings; logger: Logger; info: (source: string, line: string) => void }> {
  // Before anything reads the proxy settings (the dashboard shows them): no password in them.
  const movedPasswords = await movePasswordsOutOfSettings(home.settings, home.secrets).catch(() => false);
  const { settings, unknownKeys: unknownKeysFound } = await readSettingsFile(home.settings);
  const { logger, info } = await startLogging(home, settings.logLevel);
  const unknownKeys = unknownKeysWarning(home.settings, unknownKeysFound);
  if (unknownKeys) logger.warn(unknownKeys, { source: 'manager' });
  if (movedPasswords) logger.info(`moved the proxy passwords in ${home.settings} to ${home.secrets} (0600)`, { source: 'manager' });
  return { settings, logger, info };
}

/** `docker --context berth`, made or checked: what was done is logged, and a failure is a warning, not a failed start. */
function dockerContext(home: HomeLayout, info: (source: string, line: string) => void, logger: Logger): Promise<void> {
  return ensureDockerContext(`unix://${home.dockerSocket}`).then(
    (m) => void info('manager', m),
    (e: Error) => void logger.warn(e.message),
  );
}

/** The manager's log (winston, rotated), and the process's last-resort handlers. */
async function startLogging(home: HomeLayout, level: string): Promise<{ logger: Logger; info: (source: string, line: string) => void }> {
  await mkdir(home.logsDir, { recursive: true });
  await mkdir(home.runDir, { recursive: true });
  const logger = managerLogger(home.logsDir, level);
  logUnhandled((line) => logger.error(line, { source: 'manager' }), 'the backend');
  return { logger, info: (source, line) => logger.info(line, { source }) };
}

/**
 * Space the engine frees goes back to the host by itself (the disk is sparse; a trim punches
 * the holes). The trim waits for berth-data's lock: run while a resize or move holds the
 * disk at rest, it would start berth-data under them.
 */
function startAutoTrim(home: HomeLayout, wsl: WslHost, dataDisk: () => Promise<DataDisk>, info: (source: string, line: string) => void): AutoTrim {
  const trimUnderLock = () => withLock(home.dataLock, async () => (await dataDisk()).trim(), TRIM_LOCK_WAIT_MS);
  const autoTrim = new AutoTrim({ daemon: () => wsl.connect(BERTH_DISTRO, DAEMON_SOCKET), trim: trimUnderLock, log: (l) => info('data', l), after: systemClock.after });
  autoTrim.start();
  return autoTrim;
}

/** The images built if needed, then both distros installed or upgraded (berth-data under its lock). */
async function install(home: HomeLayout, wsl: WslHost, engine: Engine, progress: (step: string) => void, warn: (line: string) => void): Promise<void> {
  const images = await ensureImages(home.images, { step: (_i, _t, label) => progress(`building ${label}`), update() {}, done() {} });
  const { diskSizeGiB } = await loadSettings(home.settings);
  await withLock(home.dataLock, () =>
    installDistros(wsl, images, { distroDir: (n) => home.distroDir(n), state: home.state, dataMoveJournal: home.dataMoveJournal }, progress, () => engine.stop(), warn, diskSizeGiB * GIB),
  );
}

/** The dashboard on loopback, and the root-only control socket the CLI talks to. */
async function serveDashboardAndControl(home: HomeLayout, backend: Backend, api: ApiDeps, shutdown: () => void, info: (source: string, line: string) => void, logger: Logger): Promise<Array<{ close(): unknown }>> {
  const { serveApi, serveDashboard } = await import('../dashboard/server.js');
  const dashboard = await serveDashboard(api, { port: 0, assetsDir: join(BERTH_REPO, 'dist/dashboard'), log: (l) => logger.warn(l) });
  info('manager', `dashboard at ${dashboard.url} (\`berth dashboard\` prints a login link)`);
  await rm(home.backendSocket, { force: true });
  const control = createServer(backendRouter(backend, shutdown, { loginUrl: () => dashboard.loginUrl(), serveApi: (req, res) => void serveApi(api, req, res, req.url ?? '/'), status: () => api.status() }));
  // Root (or the owner of a per-user home) only: it stops Berth and changes its proxy.
  await listenUnix(control, home.backendSocket, ROOT_ONLY);
  return [dashboard, control];
}

/** The settings' integrated distros, plus the default distro when "integrate with my default distro" is on. */
async function integratedDistros(wsl: WslHost, settings: Settings, warn: (line: string) => void): Promise<string[]> {
  const list = [...settings.integratedDistros];
  if (!settings.integrateWithDefaultDistro) return list;
  const def = (await wsl.list()).find((d) => d.isDefault && ![BERTH_DISTRO, DATA_DISTRO].includes(d.name.toLowerCase()));
  // The name comes from `wsl -l`: it passes the same check as a name in the settings.
  if (def && !DISTRO_NAME.test(def.name)) warn(`the default distro's name ${JSON.stringify(def.name)} is not a WSL distro name; not integrating it`);
  else if (def && !list.some((d) => d.toLowerCase() === def.name.toLowerCase())) list.push(def.name);
  return list;
}
