import { diskStatus } from '../../data-distro/disk-usage.js';
import type { EngineUsage } from '../../bootstrap-distro/agent/status-schema.js';
import { Backoff } from '../../common/backoff.js';
import type { BackendStatus, NetworkStatus } from './status-schema.js';
import { ForeignDistroError } from '../foreign-distro-error.js';
import type { AgentServiceStatus } from '../engine.js';
import type { IntegrationStatus } from '../integrations.js';
import type { Settings } from '../settings.js';
import { StepTimes } from './step-times.js';
import { BackendPhase, type BackendState } from './phase.js';
import { LastGoodSettings } from './last-good-settings.js';
import { stopInOrder, type BackendParts } from './parts.js';

const ENGINE_START_DEADLINE_MS = 60_000;
const EVENTS_KEPT = 20;

/**
 * The manager's long-running state machine: starting → running, or → failed and retried with
 * Berth's backoff (or refused, when a foreign distro needs the user); running → starting again
 * when the engine ends unexpectedly; any state → stopping → stopped. One bring-up runs at a
 * time, whoever asks (the first start, a retry, `berth start`, an engine that ended).
 */
export class Backend {
  private readonly phase: BackendPhase;
  /** `berth integrate` while starting: the start's own sync may have read the settings before it. */
  private integrationsChanged = false;
  private error: string | undefined;
  private refused = false;
  private services: AgentServiceStatus[] = [];
  private readonly events: string[] = [];
  private readonly backoff = new Backoff(Backoff.ENGINE_START);
  private cancelRetry: (() => void) | undefined;
  private bringing: Promise<void> | undefined;
  /** The engine ended while a bring-up was still finishing: run one more. */
  private again = false;
  /** What the last stop could not undo (each names the part and why); empty when it all went. */
  stopProblems: string[] = [];
  /** The engine is to stay down: stopped on request, or the backend is closing. */
  private halted = true;
  private stoppingEngine: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly settings: LastGoodSettings;
  private logWriter: string | undefined;
  private disk: BackendStatus['disk'];
  private paused = false;

  constructor(
    private readonly parts: BackendParts,
    initialSettings: Settings,
  ) {
    this.settings = new LastGoodSettings(initialSettings, parts);
    this.phase = new BackendPhase(parts.clock);
  }

  /** Resolves once the state or the progress is not what the caller saw, or after `waitMs` (phase.ts). */
  whenChanged(seen: { state: string; progress: string }, waitMs: number): Promise<void> {
    return this.phase.whenChanged(seen, waitMs);
  }

  /** Starts the engine, unless it is running or starting; after a stop, once that has finished. */
  start(): void {
    if (this.closing || (!this.halted && this.phase.state !== 'failed')) return;
    this.halted = false;
    this.cancelRetry?.();
    this.refused = false;
    void (this.stoppingEngine ?? Promise.resolve()).then(() => this.bringUp());
  }

  /** Stops the engine and what hangs on it; the backend (and the dashboard) stay up. */
  stopEngine(): Promise<void> {
    if (this.closing) return this.closing;
    this.halted = true;
    this.stoppingEngine ??= this.stopParts(false).finally(() => (this.stoppingEngine = undefined));
    return this.stoppingEngine;
  }

  /** Stop, then start: the restart every caller (the API, the dashboard, daemon.json, resource caps) shares. */
  async restartEngine(): Promise<void> {
    await this.stopEngine();
    this.start();
  }

  /** `berth start` after a failure (or a refusal the user has since fixed): now, not at the next backoff step. */
  retry(): void {
    if (this.phase.state !== 'failed' || this.halted) return;
    this.cancelRetry?.();
    this.refused = false;
    this.phase.progress = 'retrying';
    this.bringUp();
  }

  async reloadIntegrations(): Promise<IntegrationStatus[]> {
    const settings = await this.settings.current();
    if (this.phase.state === 'running') await this.syncIntegrations(settings);
    else if (this.phase.state === 'starting') this.integrationsChanged = true; // the start syncs them again before it says running
    return this.parts.integrations.status();
  }

  /** Throws the SettingsError of an invalid file: `berth proxy` shows it. */
  async reloadNetwork(): Promise<NetworkStatus> {
    const settings = await this.parts.loadSettings();
    await this.parts.network.configure(settings);
    await this.parts.network.syncCertificates(); // new containers and certs.d follow at once; dockerd's own bundle at the next start
    return this.parts.network.status();
  }

  async status(): Promise<BackendStatus> {
    if (this.phase.state === 'running') {
      const agent = await this.parts.engine.agentStatus();
      this.services = agent?.services ?? this.services;
      this.logWriter = agent?.logWriter;
      this.disk = agent?.disk ? diskStatus(agent.disk, await this.parts.diskImageBytes?.().catch(() => undefined)) : undefined;
      this.paused = agent?.paused === true;
    } else {
      this.disk = undefined;
      this.paused = false;
    }
    const settings = await this.settings.current();
    return {
      state: this.phase.state,
      endpoint: this.parts.endpoint,
      services: this.services.map(({ name, state, pid, restarts }) => ({ name, state, pid, restarts })),
      integrations: this.phase.state === 'running' ? this.parts.integrations.status() : settings.integratedDistros.map((distro) => ({ distro, state: 'stopped' })),
      network: this.parts.network.status(),
      pid: process.pid,
      progress: this.phase.progress,
      ...(this.error ? { error: this.error } : {}),
      ...(this.refused ? { refused: true } : {}),
      ...(this.settings.problem ? { settingsError: this.settings.problem } : {}),
      ...(this.parts.ports.error ? { portsError: this.parts.ports.error } : {}),
      ...(this.logWriter ? { logsError: this.logWriter } : {}),
      ...(this.disk ? { disk: this.disk } : {}),
      ...(this.paused ? { paused: true } : {}),
      events: [...this.events],
    };
  }

  /** The engine cgroup's use and whether it is paused (the dashboard's charts); undefined unless the engine runs. */
  engineUsage = async (): Promise<{ usage?: EngineUsage | undefined; paused?: boolean | undefined } | undefined> => (this.phase.state === 'running' ? this.parts.engine.agentStatus() : undefined);

  get currentState(): BackendState {
    return this.phase.state;
  }

  /** Stops everything for good (the backend exits after), once; later calls wait for the same stop. */
  stop(): Promise<void> {
    this.halted = true;
    this.closing ??= (async () => {
      await this.stoppingEngine?.catch(() => undefined);
      await this.stopParts(true);
    })();
    return this.closing;
  }

  private async stopParts(final: boolean): Promise<void> {
    this.phase.enter('stopping');
    this.cancelRetry?.();
    this.parts.log.info('manager', 'stopping');
    await this.bringing?.catch(() => undefined);
    const problems = await stopInOrder(this.parts, final);
    this.stopProblems = problems;
    this.phase.enter('stopped');
    this.services = [];
    this.parts.log.info('manager', 'stopped');
  }

  /** A line for status's events and the log: something the user should know happened. */
  event(text: string): void {
    this.events.push(`${new Date(this.parts.clock.now()).toISOString()} ${text}`);
    if (this.events.length > EVENTS_KEPT) this.events.shift();
    this.parts.log.warn(text);
  }

  private bringUp(): void {
    if (this.halted) return;
    if (this.bringing) {
      this.again = true;
      return;
    }
    this.phase.state = 'starting';
    this.bringing = this.bringUpOnce().finally(() => {
      this.bringing = undefined;
      if (this.again && !this.halted) {
        this.again = false;
        this.bringUp();
      }
    });
  }

  /** A step of the bring-up, for status and the log. */
  private readonly step = (text: string): void => {
    this.phase.progress = text;
    this.parts.log.info('manager', text);
  };

  private async bringUpOnce(): Promise<void> {
    const { parts } = this;
    const steps = new StepTimes(parts.clock);
    let linking: Promise<void> | undefined;
    try {
      this.phase.progress = 'checking images';
      await parts.install(this.step, (line) => this.event(line));
      if (this.halted) return;
      steps.done('install check');
      this.phase.progress = 'syncing trusted CAs';
      const settings = await this.settings.current();
      // berth-data's two files, written at once while the agent loads (Engine.start awaits them before the store's mount).
      const files = Promise.all([parts.network.syncCertificates(), parts.syncEngineConfig()]).then(([, problem]) => {
        if (problem) this.event(problem);
        steps.done('CAs and daemon.json');
        this.phase.progress = 'starting the engine';
      });
      // The link needs only the engine's namespace: attached as soon as the agent says it is there, while dockerd starts.
      const attachLink = () => (linking ??= parts.network.attach());
      const warnings = await parts.engine.start(
        ENGINE_START_DEADLINE_MS,
        (why) => this.engineEnded(why),
        { cgroup: parts.engineCgroup, memoryMiB: settings.memoryMiB, cpus: settings.cpus, autoPauseSeconds: settings.autoPauseTimeoutSeconds },
        () => void attachLink(), // awaited by serve(), or by the catch below
        files,
      );
      for (const warning of warnings ?? []) this.event(warning);
      steps.done('engine');
      if (this.halted) return;
      // `running` only once the link, the ports and the integrated distros serve: a script's
      // `berth start && wsl -d Ubuntu docker ps` must not race the distros' proxies.
      this.phase.progress = 'starting the ports and the integrations';
      await this.serve(steps, attachLink);
      if (this.halted) return;
      this.phase.enter('running');
      this.error = undefined;
      this.backoff.succeeded();
      parts.log.info('manager', `engine running (${steps.summary()})`);
    } catch (e) {
      // A link attached while the engine started has nothing left to carry.
      if (linking) await linking.then(() => parts.network.detach()).catch((d: Error) => parts.log.error(`detaching the engine link: ${d.message}`));
      if (this.halted) return;
      this.failed(e as Error);
    } finally {
      // A stop waits for this bring-up, then detaches the link: an attach still under way would
      // outlive it. (A failed attach was handled where serve() or the catch awaited it.)
      await linking?.catch(() => undefined);
    }
  }

  /** What hangs on a running engine; none of the three needs another, so they start at once. */
  private async serve(steps: StepTimes, attachLink: () => Promise<void>): Promise<void> {
    const { parts } = this;
    await steps.atOnce({
      link: async () => {
        await attachLink();
        await parts.endpointReady;
      },
      ports: async () => {
        await parts.ports.stop();
        await parts.ports.start().catch((e: Error) => this.event(`ports: ${e.message}`));
        await parts.credentials?.stop();
        await parts.credentials?.start().catch((e: Error) => this.event(`credentials: ${e.message}`));
      },
      integrations: async () => {
        do {
          this.integrationsChanged = false;
          await this.syncIntegrations(await this.settings.current());
        } while (this.integrationsChanged && !this.halted);
      },
    });
  }

  private async syncIntegrations(settings: Settings): Promise<void> {
    try {
      await this.parts.integrations.sync(await this.parts.integratedDistros(settings));
    } catch (e) {
      this.event(`integrations: ${(e as Error).message}`);
    }
  }

  private failed(e: Error): void {
    this.phase.state = 'failed';
    this.error = e.message;
    if (e instanceof ForeignDistroError) {
      this.refused = true;
      this.phase.progress = 'refused';
      this.parts.log.error(e.message);
      return;
    }
    const delay = this.backoff.next();
    this.phase.progress = `failed; retrying in ${delay / 1000}s`;
    this.parts.log.error(`start failed: ${e.message}`);
    this.cancelRetry = this.parts.clock.after(delay, () => this.bringUp());
  }

  private engineEnded(why: string): void {
    if (this.halted) return;
    this.event(`engine stopped unexpectedly: ${why}; starting it again`);
    this.services = [];
    this.parts.network.detach().catch((e: Error) => this.parts.log.error(`detaching the engine link: ${e.message}`));
    this.bringUp();
  }
}
