// What the dashboard and /api/v1 drive, wired to the backend: loaded once its bring-up has begun.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'winston';
import type { WslHost } from '../../wsl-host/host.js';
import type { ApiDeps } from '../dashboard/api.js';
import { DistroCache } from '../dashboard/distro-cache.js';
import type { UsageSource } from '../dashboard/usage.js';
import { BERTH_DISTRO } from '../distros.js';
import { DATA_DISTRO } from '../../data-distro/layout.js';
import type { DataDisk } from '../../data-distro/data-disk.js';
import { DAEMON_SOCKET } from '../engine.js';
import type { EngineConfigStore } from '../engine-config/store.js';
import type { HomeLayout } from '../home.js';
import { wakingDaemon } from '../host-endpoint.js';
import { BerthLogs, sourceFilter } from '../log-lines.js';
import { wipeDataDistro } from '../reset.js';
import { loadSettings, saveSettings, settingsSchema } from '../settings.js';
import { withLock } from '../../common/lock.js';
import type { Backend } from './backend.js';

/** The page waits this long for `wsl -l`, then shows the list it last got. */
const DISTRO_LIST_WAIT_MS = 1500;

/** The dashboard charts' figures: the agent's cgroup counters, and the engine reached without waking it. */
function usageSource(wsl: WslHost, backend: Backend): UsageSource {
  return {
    engine: async () => {
      const agent = await backend.engineUsage();
      return agent?.usage ? { usage: agent.usage, paused: agent.paused === true } : undefined;
    },
    daemon: () => wsl.connect(BERTH_DISTRO, DAEMON_SOCKET),
  };
}

/** What the dashboard and /api/v1 drive, wired to this backend. */
export function apiDeps(o: {
  home: HomeLayout;
  wsl: WslHost;
  backend: Backend;
  engineConfig: EngineConfigStore;
  dataDisk: () => Promise<DataDisk>;
  info: (source: string, line: string) => void;
  logger: Logger;
  updated: () => Promise<{ update?: string }>;
}): ApiDeps {
  const { home, wsl, backend, engineConfig, dataDisk, info, logger } = o;
  const distros = new DistroCache(() => wsl.list());
  return {
    status: async () => ({ ...(await backend.status()), ...(await o.updated()) }),
    startEngine: () => backend.start(),
    stopEngine: () => backend.stopEngine(),
    restartEngine: () => backend.restartEngine(),
    reloadIntegrations: () => backend.reloadIntegrations(),
    reloadNetwork: () => backend.reloadNetwork(),
    listDistros: () => distros.get(DISTRO_LIST_WAIT_MS),
    settingsFile: home.settings,
    secretsFile: home.secrets,
    daemon: wakingDaemon(wsl),
    hostEndpoint: home.dockerSocket,
    usage: usageSource(wsl, backend),
    reset: async (kind) => {
      await backend.stopEngine();
      await wipeDataDistro(wsl, home, (l) => logger.warn(l));
      if (kind === 'factory') {
        await saveSettings(home.settings, settingsSchema.parse({}));
        await rm(join(home.root, 'daemon.json'), { force: true });
      }
      info('manager', `${DATA_DISTRO} wiped${kind === 'factory' ? ', settings back to their defaults' : ''} (from the dashboard)`);
      if ((await loadSettings(home.settings)).wslEngine) backend.start();
    },
    dataDisk: {
      file: async () => (await dataDisk()).file,
      move: async (dir) => {
        const disk = await dataDisk();
        await disk.checkMove(dir);
        const say = (l: string) => info('data', l);
        // In the background: the page and the API answer at once; the steps are logged (source `data`).
        void withLock(home.dataLock, () => disk.move(dir, { stop: () => backend.stopEngine(), start: async () => void backend.start() }, say)).catch((e: Error) =>
          logger.error(`moving berth-data's disk to ${dir} failed: ${e.message}`),
        );
      },
    },
    diagnose: async () => (await import('../diagnose.js')).collectDiagnostics(home, wsl),
    openLogs: (sources) => new BerthLogs(home, wsl, sourceFilter(sources)),
    engineConfig: {
      text: () => engineConfig.text(),
      apply: (text) => engineConfig.apply(text, backend.currentState === 'running', () => backend.restartEngine()),
    },
  };
}
