import { join } from 'node:path';
import type { ApiDeps } from '../../installer/dashboard/api.js';
import { checkEngineConfig } from '../../installer/engine-config/schema.js';

/**
 * What a dashboard under test drives, with nothing behind it: a stopped backend, files in
 * `dir`, the Engine API at `daemon` (a socket the test may serve, or none). Tests override
 * the parts they watch.
 */
export function stubApiDeps(dir: string, daemon = join(dir, 'no-daemon.sock')): ApiDeps {
  return {
    status: async () => ({ state: 'stopped', endpoint: 'unix:///x', services: [], integrations: [] }),
    startEngine: () => undefined,
    stopEngine: async () => undefined,
    restartEngine: async () => undefined,
    reloadIntegrations: async () => [],
    reloadNetwork: async () => ({}),
    listDistros: async () => [],
    settingsFile: join(dir, 'settings.json'),
    secretsFile: join(dir, 'secrets.json'),
    daemon,
    hostEndpoint: daemon,
    usage: { engine: async () => undefined, daemon },
    reset: async () => undefined,
    diagnose: async () => join(dir, 'bundle.tar.gz'),
    openLogs: () => ({ follow: async () => undefined, stop: () => undefined }),
    dataDisk: { file: async () => '/x/ext4.vhdx', move: async () => undefined },
    engineConfig: {
      text: async () => '{}',
      apply: async (text) => {
        const c = checkEngineConfig(text);
        return 'issues' in c ? c : { applied: 'saved' };
      },
    },
  };
}
