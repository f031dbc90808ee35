import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { WslHost } from '../wsl-host/host.js';
import { ensureDockerContext } from './docker-context.js';
import { ForeignDistroError, installDistros } from './distros.js';
import { Engine, type AgentServiceStatus } from './engine.js';
import type { HomeLayout } from './home.js';
import { serveHostEndpoint, sharedDrives } from './host-endpoint.js';
import { ensureImages } from './images.js';
import { Integrations } from './integrations.js';
import { managerLogger } from './log.js';
import { PortForwards } from './ports.js';
import { sharedAreaOnHost } from './wsl.js';
import { join } from 'node:path';
import { listenUnix, ROOT_ONLY } from '../wsl-host/unix-socket.js';
import { DISTRO_NAME, loadSettings } from './settings.js';
import { EngineNetwork } from './network/engine-network.js';
import type { BackendStatus } from './backend-status.js';

export type BackendState = 'starting' | 'running' | 'failed' | 'stopping';

export type { BackendStatus } from './backend-status.js';

const RETRY_DELAYS_MS = [1000, 5000, 15_000, 30_000, 60_000];

/**
 * `berth backend`: started detached by `berth start`/`enable`, it brings the engine up,
 * serves the host endpoint and a control socket, and keeps the engine up: when the attached
 * agent ends (agent killed, `wsl --terminate berth`, `wsl --shutdown`) it starts it again.
 */
export async function runBackend(home: HomeLayout, wsl: WslHost): Promise<number> {
  const settings = await loadSettings(home.settings);
  await mkdir(home.logsDir, { recursive: true });
  const logger = managerLogger(home.logsDir, settings.logLevel);
  const log = (source: string, line: string) => logger.info(line, { source });
  let state: BackendState = 'starting';
  let progress = 'starting';
  let error: string | undefined;
  let refused = false;
  const events: string[] = [];
  const event = (text: string) => {
    events.push(`${new Date().toISOString()} ${text}`);
    if (events.length > 20) events.shift();
    logger.warn(text);
  };
  const engine = new Engine(wsl, log);
  const integrations = new Integrations(wsl, log);
  const ports = new PortForwards(wsl, (l) => log('ports', l));
  const network = new EngineNetwork({ wsl, sharedArea: sharedAreaOnHost(), runDir: home.runDir, logsDir: home.logsDir, certsDir: home.certsDir, certsDDir: home.certsDDir, log: (l) => log('network', l) });
  await network.configure(settings);
  const integrated = async () => {
    const current = await loadSettings(home.settings).catch(() => settings);
    const list = [...current.integratedDistros];
    if (current.integrateWithDefaultDistro) {
      const def = (await wsl.list()).find((d) => d.isDefault && !['berth', 'berth-data'].includes(d.name.toLowerCase()));
      // The name comes from `wsl -l`: it passes the same check as a name in the settings.
      if (def && !DISTRO_NAME.test(def.name)) logger.warn(`the default distro's name ${JSON.stringify(def.name)} is not a WSL distro name; not integrating it`);
      else if (def && !list.some((d) => d.toLowerCase() === def.name.toLowerCase())) list.push(def.name);
    }
    return list;
  };
  let stopping = false;
  let contextReady: Promise<void> = Promise.resolve();
  let retry = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let services: AgentServiceStatus[] = [];

  const bringUp = async (): Promise<void> => {
    state = 'starting';
    try {
      progress = 'checking images';
      const images = await ensureImages(home.images, { step: (_i, _t, l) => (progress = `building ${l}`), update() {}, done() {} });
      await installDistros(wsl, images, { distroDir: (n) => home.distroDir(n), state: home.state }, (m) => {
        progress = m;
        log('manager', m);
      }, () => engine.stop());
      progress = 'syncing trusted CAs';
      await network.syncCertificates();
      progress = 'starting the engine';
      await engine.start(60_000, (why) => {
        if (stopping) return;
        event(`engine stopped unexpectedly: ${why}; starting it again`);
        services = [];
        void network.detach();
        void bringUp();
      });
      await network.attach();
      await contextReady; // made alongside the start; `docker --context berth` works once we say running
      state = 'running';
      progress = 'running';
      error = undefined;
      retry = 0;
      log('manager', 'engine running');
      await ports.stop();
      await ports.start(sharedAreaOnHost() && join(sharedAreaOnHost()!, 'berth/ports.sock')).catch((e: Error) => logger.error(`ports: ${e.message}`));
      await integrations.sync(await integrated()).catch((e: Error) => logger.error(`integrations: ${e.message}`));
    } catch (e) {
      if (stopping) return;
      state = 'failed';
      error = (e as Error).message;
      if (e instanceof ForeignDistroError) {
        refused = true;
        progress = 'refused';
        logger.error(error);
        return;
      }
      const delay = RETRY_DELAYS_MS[Math.min(retry++, RETRY_DELAYS_MS.length - 1)]!;
      progress = `failed; retrying in ${delay / 1000}s`;
      logger.error(`start failed: ${error}`);
      retryTimer = setTimeout(() => void bringUp(), delay);
    }
  };

  const status = async (): Promise<BackendStatus> => {
    if (state === 'running') services = (await engine.agentStatus())?.services ?? services;
    const current = await loadSettings(home.settings).catch(() => settings);
    return {
      state,
      endpoint: `unix://${home.dockerSocket}`,
      services: services.map(({ name, state: s, pid, restarts }) => ({ name, state: s, pid, restarts })),
      integrations: state === 'running' ? integrations.status() : current.integratedDistros.map((distro) => ({ distro, state: 'stopped' })),
      network: network.status(),
      pid: process.pid,
      progress,
      ...(error ? { error } : {}),
      ...(refused ? { refused } : {}),
      events,
    };
  };

  let control: Server | undefined;
  const finished = new Promise<number>((resolve) => {
    const shutdown = async () => {
      if (stopping) return;
      stopping = true;
      state = 'stopping';
      clearTimeout(retryTimer);
      log('manager', 'stopping');
      await integrations.stopAll();
      await ports.stop();
      await engine.stop();
      await network.close();
      endpoint?.close();
      control?.close();
      await rm(home.dockerSocket, { force: true });
      await rm(home.backendSocket, { force: true });
      log('manager', 'stopped');
      resolve(0);
    };
    process.on('SIGTERM', () => void shutdown());
    process.on('SIGINT', () => void shutdown());
    stopRequest = shutdown;
  });

  await mkdir(home.runDir, { recursive: true });
  await rm(home.backendSocket, { force: true });
  control = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/status') {
      void status().then((s) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(s)));
    } else if (req.method === 'POST' && req.url === '/retry') {
      // `berth start` after a failure: try again now rather than at the next backoff step.
      if (state === 'failed' && !stopping) {
        clearTimeout(retryTimer);
        refused = false;
        state = 'starting';
        progress = 'retrying';
        void bringUp();
      }
      res.writeHead(202).end('{}');
    } else if (req.method === 'POST' && req.url === '/integrations/reload') {
      // `berth integrate`: the settings changed; answer once the integrations match them.
      void (async () => {
        if (state === 'running') await integrations.sync(await integrated()).catch((e: Error) => logger.error(`integrations: ${e.message}`));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(integrations.status()));
      })();
    } else if (req.method === 'POST' && req.url === '/network/reload') {
      // `berth proxy`: the proxy settings changed; the internal proxies follow, nothing restarts.
      void (async () => {
        try {
          await network.configure(await loadSettings(home.settings));
          await network.syncCertificates(); // certs.d counts at the next pull; the bundle at the next start
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(network.status()));
        } catch (e) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: (e as Error).message }));
        }
      })();
    } else if (req.method === 'POST' && req.url === '/stop') {
      res.writeHead(202).end('{}');
      void stopRequest();
    } else {
      res.writeHead(404).end(JSON.stringify({ message: 'use GET /status, or POST /retry, /integrations/reload, /network/reload or /stop' }));
    }
  });
  // Root (or the owner of a per-user home) only: it stops Berth and changes its proxy.
  await listenUnix(control, home.backendSocket, ROOT_ONLY);
  const endpoint = await serveHostEndpoint(wsl, home.dockerSocket, sharedDrives(settings), (l) => log('endpoint', l), (p) => ports.claim(p), async () => network.containersEnv());
  contextReady = ensureDockerContext(`unix://${home.dockerSocket}`).then(
    (m) => void log('manager', m),
    (e: Error) => void logger.warn(e.message),
  );
  void bringUp();
  const code = await finished;
  logger.end();
  return code;
}

let stopRequest: () => Promise<void> = async () => {};
