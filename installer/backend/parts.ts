import type { AgentServiceStatus, EngineResources } from '../engine.js';
import type { EngineUsage } from '../../bootstrap-distro/agent/status-schema.js';
import type { IntegrationStatus } from '../integrations.js';
import type { Settings } from '../settings.js';
import type { Clock } from './clock.js';
import type { NetworkStatus } from './status-schema.js';

/** What the backend drives, as small interfaces: the real ones are wired in run-backend.ts, fakes in the unit tests. */
export interface BackendParts {
  /** Builds or finds the images and imports the distros when needed. */
  install(progress: (step: string) => void, warn: (line: string) => void): Promise<void>;
  /** Puts the engine's daemon.json in place for its start; says what was wrong with the user's, if anything. */
  syncEngineConfig(): Promise<string | undefined>;
  /** The engine's cgroup (per Berth home), where memoryMiB and cpus apply. */
  engineCgroup?: string;
  engine: {
    /**
     * Resolves with warnings for status (a cap the kernel cannot enforce); `onNamespace` fires
     * once the engine's network namespace is there, before dockerd answers. The start waits
     * for `prerequisite` (and rejects with it) before it touches the data store.
     */
    start(deadlineMs: number, onExit: (why: string) => void, limits: EngineResources, onNamespace?: () => void, prerequisite?: Promise<unknown>): Promise<string[] | void>;
    stop(): Promise<void>;
    agentStatus(): Promise<
      { services: AgentServiceStatus[]; logWriter?: string | undefined; disk?: { sizeBytes: number; availBytes: number } | undefined; paused?: boolean | undefined; usage?: EngineUsage | undefined } | undefined
    >;
  };
  network: {
    configure(settings: Settings): Promise<void>;
    syncCertificates(): Promise<void>;
    attach(): Promise<void>;
    detach(): Promise<void>;
    close(): Promise<void>;
    status(): NetworkStatus;
  };
  ports: { start(): Promise<void>; stop(): Promise<void>; readonly error: string | undefined };
  /** The credentials socket the distros' proxies hand `docker login`s to (installer/credentials.ts). */
  credentials?: { start(): Promise<void>; stop(): Promise<void> };
  integrations: { sync(distros: string[]): Promise<void>; stopAll(): Promise<void>; status(): IntegrationStatus[] };
  /** The distros to integrate under these settings (the default distro resolved). */
  integratedDistros(settings: Settings): Promise<string[]>;
  /** Reads the settings file; throws a SettingsError for an invalid one. */
  loadSettings(): Promise<Settings>;
  /** The host's Docker endpoint served and `docker --context berth` made; the backend says running only once both are. */
  endpointReady: Promise<void>;
  clock: Clock;
  log: { info(source: string, line: string): void; warn(line: string): void; error(line: string): void };
  endpoint: string;
  /** What berth-data's image file takes on the host, if the manager can see it. */
  diskImageBytes?(): Promise<number | undefined>;
}

/**
 * Takes down what hangs on the engine, then the engine and its link (closed for good when
 * `final`), every step tried: a part that fails to stop must not keep the others up. Returns
 * what could not be undone, each naming the part, also logged.
 */
export async function stopInOrder(parts: BackendParts, final: boolean): Promise<string[]> {
  const { integrations, ports, credentials, engine, network } = parts;
  const problems: string[] = [];
  for (const [what, step] of [
    ['integrations', () => integrations.stopAll()],
    ['ports', () => ports.stop()],
    ['credentials', async () => credentials?.stop()],
    ['engine', () => engine.stop()],
    ['network', final ? () => network.close() : () => network.detach()],
  ] as const) {
    await step().catch((e: Error) => {
      problems.push(`stopping the ${what}: ${e.message}`);
      parts.log.error(`stopping the ${what}: ${e.message}`);
    });
  }
  return problems;
}
