import { AGENT_WARNING, ENGINE_NETNS_LINE } from '../common/agent-warning.js';
import { createHash } from 'node:crypto';
import type { WslHost, WslProcess } from '../wsl-host/host.js';
import { mountDataStore, unmountDataStore } from '../data-distro/store-mount.js';
import { BERTH_DISTRO } from './distros.js';
import { DATA_DISTRO } from '../data-distro/layout.js';
import { dockerPing } from '../common/docker-api.js';
import { HttpError, httpJson } from '../common/http-client.js';
import { agentStatusSchema, type AgentStatus } from '../bootstrap-distro/agent/status-schema.js';
import { AGENT_COMMAND, ENGINE_INIT_COMMAND, sharedPath } from '../common/shared-area.js';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { sleep } from '../common/process.js';

export const AGENT = AGENT_COMMAND;
export const DAEMON_SOCKET = sharedPath('dockerSocket');
export const AGENT_SOCKET = sharedPath('agentSocket');

/**
 * The engine's cgroup and caps (settings `memoryMiB`, `cpus`), applied at its start; see the
 * agent's engine-cgroup.ts. The cgroup is named per Berth home, so two Berths on one machine
 * (tests, two users) never share one; dockerd's `cgroup-parent` points into it.
 */
export interface EngineResources {
  cgroup?: string | undefined;
  memoryMiB?: number | undefined;
  cpus?: number | undefined;
  /** Resource Saver: seconds without a request or a running container before the engine pauses (0: never). */
  autoPauseSeconds?: number | undefined;
}

export function engineCgroupName(berthHome: string): string {
  return `berth-engine-${createHash('sha256').update(berthHome).digest('hex').slice(0, 12)}`;
}

/** daemon.json's `cgroup-parent` for that cgroup (runc and BuildKit take it from the hierarchy's root). */
export function containersCgroupParent(cgroup: string): string {
  return `/${cgroup}/containers`;
}

export interface AgentServiceStatus {
  name: string;
  state: string;
  pid: number | null;
  restarts: number;
}

/** How the attach loop ends: told to stop (a signal), or because the supervisor is gone. */
export const ATTACH_EXIT = { stopped: 0, supervisorGone: 2 } as const;

/**
 * What stays attached in the berth distro while the engine runs (as wsl.exe keeps a distro
 * up while a process runs in it): a shell, not a second Node process, that ends when the
 * supervisor does and turns a signal into `berth-agent stop`. It waits on
 * `berth-engine-init wait` (pidfds on the supervisor and on the shell itself, so a killed
 * shell leaves no waiter): nothing wakes while the engine runs.
 */
export function attachScript(supervisorPid: number): string {
  const pid = Math.trunc(supervisorPid);
  return [`trap '${AGENT} stop >/dev/null 2>&1; exit ${ATTACH_EXIT.stopped}' TERM INT HUP`, `${ENGINE_INIT_COMMAND} wait ${pid} $$ & wait $!`, `exit ${ATTACH_EXIT.supervisorGone}`].join('\n');
}

/** Each non-empty line a process in a distro writes, on either stream, as it comes; resolves once both streams have ended. */
function eachLine(proc: WslProcess, onLine: (line: string, stream: 'stdout' | 'stderr') => void): Promise<void> {
  const read = (input: Readable | null, stream: 'stdout' | 'stderr') =>
    input
      ? new Promise<void>((resolve) => {
          const lines = createInterface({ input, crlfDelay: Infinity });
          lines.on('line', (line) => {
            if (line) onLine(line, stream);
          });
          lines.once('close', resolve);
        })
      : Promise.resolve();
  return Promise.all([read(proc.stdout, 'stdout'), read(proc.stderr, 'stderr')]).then(() => undefined);
}

/** The engine as the manager drives it: the data store, then the agent attached in berth. */
export class Engine {
  private attached: WslProcess | undefined;

  constructor(
    private readonly wsl: WslHost,
    private readonly log: (source: string, line: string) => void,
  ) {}

  /**
   * `berth-agent start --detach` in the berth distro, with the caps; its warnings go into
   * `warnings`. Its output is read as it comes: `onNamespace` fires at the line saying the
   * engine's network namespace is published, while dockerd still starts.
   */
  private async startAgent(deadlineMs: number, limits: EngineResources, warnings: string[], onNamespace: (() => void) | undefined): Promise<AgentStatus> {
    const caps = [
      ...(limits.cgroup !== undefined ? ['--cgroup', limits.cgroup] : []),
      ...(limits.memoryMiB !== undefined ? ['--memory-mib', String(limits.memoryMiB)] : []),
      ...(limits.cpus !== undefined ? ['--cpus', String(limits.cpus)] : []),
      ...(limits.autoPauseSeconds ? ['--auto-pause', String(limits.autoPauseSeconds)] : []),
    ];
    const agent = this.wsl.exec(BERTH_DISTRO, [AGENT, 'start', '--detach', '--timeout', String(Math.ceil(deadlineMs / 1000)), ...caps], { user: 'root', stdout: 'pipe', stderr: 'pipe' });
    const errors: string[] = [];
    const lines = eachLine(agent, (line, stream) => {
      this.log('agent', line);
      if (stream === 'stderr') errors.push(line);
      if (line.startsWith(AGENT_WARNING)) warnings.push(line.slice(AGENT_WARNING.length));
      if (line === ENGINE_NETNS_LINE) onNamespace?.();
    });
    const [started] = await Promise.all([agent.done, lines]);
    if (started.exitCode !== 0) throw new Error(`the engine did not start (berth-agent exit ${started.exitCode}): ${errors.slice(-15).join('\n  ')}`);
    const running = await this.agentStatus();
    if (!running) throw new Error(`the engine started but its agent does not answer on ${AGENT_SOCKET}`);
    return running;
  }

  /**
   * Starts (or attaches to) the engine and resolves once /_ping answers, with the agent's
   * warnings (caps it cannot enforce) for status; `onExit` fires if the attached agent ends
   * later (agent died, distro terminated, WSL shut down).
   */
  async start(deadlineMs: number, onExit: (why: string) => void, limits: EngineResources = {}, onNamespace?: () => void): Promise<string[]> {
    const warnings: string[] = [];
    await mountDataStore(this.wsl);
    // An engine left up (its attached process lost with a killed manager, or killed itself)
    // is attached to, not restarted: its containers keep running.
    let running = await this.agentStatus();
    if (running) this.log('manager', 'the engine from an earlier run is still up; attaching to it');
    else running = await this.startAgent(deadlineMs, limits, warnings, onNamespace);
    const agent = this.wsl.exec(BERTH_DISTRO, ['sh', '-c', attachScript(running.pid)], { user: 'root', stdout: 'pipe', stderr: 'pipe' });
    this.attached = agent;
    const tail: string[] = [];
    void eachLine(agent, (line) => {
      this.log('agent', line);
      tail.push(line);
      if (tail.length > 30) tail.shift();
    });
    let ended: string | undefined;
    void agent.done.then(
      (r) => {
        ended = `the engine stopped (${r.exitCode === ATTACH_EXIT.supervisorGone ? 'its supervisor exited' : `the attached process exited with code ${r.exitCode}${r.signal ? `, ${r.signal}` : ''}`})`;
        if (this.attached === agent) {
          this.attached = undefined;
          onExit(ended);
        }
      },
      (e: Error) => {
        ended = `the attached process could not run: ${e.message}`;
        if (this.attached === agent) {
          this.attached = undefined;
          onExit(ended);
        }
      },
    );
    const deadline = Date.now() + deadlineMs;
    while (!(await this.ping())) {
      if (ended) throw new Error(`${ended}. Its last output:\n  ${tail.slice(-15).join('\n  ')}`);
      if (Date.now() > deadline) {
        const status = await this.agentStatus();
        throw new Error(`the engine did not answer /_ping within ${deadlineMs / 1000}s. Agent status: ${JSON.stringify(status?.services ?? 'unreachable')}. Last output:\n  ${tail.slice(-15).join('\n  ')}`);
      }
      await sleep(25);
    }
    return warnings;
  }

  /** Stops the engine and unmounts the store, every step tried; rejects naming what it could not undo. */
  async stop(): Promise<void> {
    const agent = this.attached;
    this.attached = undefined; // from here on its exit is expected
    const problems: string[] = [];
    // An install that never got that far has no berth (nothing can run there) or no berth-data (nothing of it is mounted).
    const registered = new Set((await this.wsl.list().catch(() => undefined))?.map((d) => d.name.toLowerCase()) ?? [BERTH_DISTRO, DATA_DISTRO]);
    if (registered.has(BERTH_DISTRO)) {
      const stopped = await this.wsl.run(BERTH_DISTRO, [AGENT, 'stop'], { user: 'root' }).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
      if (stopped.exitCode !== 0) problems.push(`the agent's stop failed (${stopped.stderr.trim().split('\n').pop() || `exit ${stopped.exitCode}`})`);
    }
    if (agent) {
      const done = await Promise.race([
        agent.done.then(
          () => true,
          () => true,
        ),
        new Promise((r) => setTimeout(() => r(false), 30_000)),
      ]);
      if (!done) {
        agent.kill('SIGKILL');
        problems.push('the engine did not end within 30 s of its stop and was killed');
      }
    }
    if (registered.has(DATA_DISTRO)) await unmountDataStore(this.wsl).catch((e: Error) => problems.push(`berth-data's store is still mounted at the shared area (${e.message}); \`berth-wsl --shutdown\` takes it down`));
    if (problems.length) throw new Error(problems.join('; '));
  }

  ping(): Promise<boolean> {
    return dockerPing(() => this.wsl.connect(BERTH_DISTRO, DAEMON_SOCKET));
  }

  /** The agent's status; undefined when no agent answers (the engine is down). */
  async agentStatus(): Promise<AgentStatus | undefined> {
    try {
      return await httpJson(() => this.wsl.connect(BERTH_DISTRO, AGENT_SOCKET), { path: '/status', timeoutMs: 2000 }, agentStatusSchema);
    } catch (e) {
      // Nothing listening is the everyday "not running"; an answer of the wrong shape is a bug worth a line.
      if (e instanceof HttpError && e.kind === 'shape') this.log('manager', `the agent's status does not fit its schema: ${(e as Error).message}`);
      return undefined;
    }
  }
}
