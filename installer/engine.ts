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

/** `berth-agent start --hold` on its way: its process, and what its output has said so far. */
interface AgentLaunch {
  proc: WslProcess;
  warnings: string[];
  errors: string[];
  /** Fired at ENGINE_NETNS_LINE: set when the launch is told to go. */
  onNamespace: (() => void) | undefined;
  /** Settles once both its streams have ended. */
  output: Promise<void>;
}

/** The attached shell as a start watches it: its last lines, and why it ended (if it has). */
interface AttachedEngine {
  tail: string[];
  ended: string | undefined;
}

/** The engine as the manager drives it: the data store, then the agent attached in berth. */
export class Engine {
  private attached: WslProcess | undefined;
  /** Whether the last start started the engine (its namespace and VM link new), rather than attaching to one from an earlier run. */
  startedAnew = false;

  constructor(
    private readonly wsl: WslHost,
    private readonly log: (source: string, line: string) => void,
  ) {}

  /**
   * `berth-agent start --detach --hold` in the berth distro, with the caps: it loads and
   * checks the images while the manager prepares, and starts the engine once told to go.
   * Its output is read as it comes: warnings are kept, and `onNamespace` fires at the line
   * saying the engine's network namespace is published, while dockerd still starts.
   */
  private launchAgent(deadlineMs: number, limits: EngineResources): AgentLaunch {
    const caps = [
      ...(limits.cgroup !== undefined ? ['--cgroup', limits.cgroup] : []),
      ...(limits.memoryMiB !== undefined ? ['--memory-mib', String(limits.memoryMiB)] : []),
      ...(limits.cpus !== undefined ? ['--cpus', String(limits.cpus)] : []),
      ...(limits.autoPauseSeconds ? ['--auto-pause', String(limits.autoPauseSeconds)] : []),
    ];
    const proc = this.wsl.exec(BERTH_DISTRO, [AGENT, 'start', '--detach', '--hold', '--timeout', String(Math.ceil(deadlineMs / 1000)), ...caps], {
      user: 'root',
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    proc.stdin?.on('error', () => undefined); // it ended before it was told: its exit says why
    const launch: AgentLaunch = { proc, warnings: [], errors: [], onNamespace: undefined, output: Promise.resolve() };
    launch.output = eachLine(proc, (line, stream) => {
      this.log('agent', line);
      if (stream === 'stderr') launch.errors.push(line);
      if (line.startsWith(AGENT_WARNING)) launch.warnings.push(line.slice(AGENT_WARNING.length));
      if (line === ENGINE_NETNS_LINE) launch.onNamespace?.();
    });
    return launch;
  }

  /** Tells a launched agent to start the engine; resolves with its status once the engine answers. */
  private async agentStarted(launch: AgentLaunch, onNamespace: (() => void) | undefined): Promise<AgentStatus> {
    launch.onNamespace = onNamespace;
    launch.proc.stdin?.end('go\n');
    const [started] = await Promise.all([launch.proc.done, launch.output]);
    if (started.exitCode !== 0) throw new Error(`the engine did not start (berth-agent exit ${started.exitCode}): ${launch.errors.slice(-15).join('\n  ')}`);
    const running = await this.agentStatus();
    if (!running) throw new Error(`the engine started but its agent does not answer on ${AGENT_SOCKET}`);
    return running;
  }

  /** A launched agent never told to go ends having started nothing. */
  private async withdraw(launch: AgentLaunch): Promise<void> {
    launch.proc.stdin?.end();
    await launch.proc.done.catch(() => undefined);
  }

  /**
   * Starts (or attaches to) the engine and resolves once /_ping answers, with the agent's
   * warnings (caps it cannot enforce) for status; `onExit` fires if the attached agent ends
   * later (agent died, distro terminated, WSL shut down). The agent is launched at once and
   * loads while `prerequisite` (berth-data's files) settles and the data store is mounted.
   */
  async start(deadlineMs: number, onExit: (why: string) => void, limits: EngineResources = {}, onNamespace?: () => void, prerequisite?: Promise<unknown>): Promise<string[]> {
    const launch = this.launchAgent(deadlineMs, limits);
    let running: AgentStatus | undefined;
    try {
      await prerequisite;
      await mountDataStore(this.wsl);
      // An engine left up (its attached process lost with a killed manager, or killed itself)
      // is attached to, not restarted: its containers keep running.
      running = await this.agentStatus();
    } catch (e) {
      await this.withdraw(launch);
      throw e;
    }
    this.startedAnew = !running;
    if (running) {
      this.log('manager', 'the engine from an earlier run is still up; attaching to it');
      await this.withdraw(launch);
    } else running = await this.agentStarted(launch, onNamespace);
    await this.untilPing(deadlineMs, this.attach(running.pid, onExit));
    return launch.warnings;
  }

  /** The attached shell (attachScript) in berth: its end is the engine's, said through `onExit`. */
  private attach(supervisorPid: number, onExit: (why: string) => void): AttachedEngine {
    const agent = this.wsl.exec(BERTH_DISTRO, ['sh', '-c', attachScript(supervisorPid)], { user: 'root', stdout: 'pipe', stderr: 'pipe' });
    this.attached = agent;
    const watch: AttachedEngine = { tail: [], ended: undefined };
    void eachLine(agent, (line) => {
      this.log('agent', line);
      watch.tail.push(line);
      if (watch.tail.length > 30) watch.tail.shift();
    });
    const ended = (why: string) => {
      watch.ended = why;
      if (this.attached === agent) {
        this.attached = undefined;
        onExit(why);
      }
    };
    void agent.done.then(
      (r) => ended(`the engine stopped (${r.exitCode === ATTACH_EXIT.supervisorGone ? 'its supervisor exited' : `the attached process exited with code ${r.exitCode}${r.signal ? `, ${r.signal}` : ''}`})`),
      (e: Error) => ended(`the attached process could not run: ${e.message}`),
    );
    return watch;
  }

  /** Resolves once /_ping answers; rejects if the attached process ends first, or at the deadline. */
  private async untilPing(deadlineMs: number, watch: AttachedEngine): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (!(await this.ping())) {
      if (watch.ended) throw new Error(`${watch.ended}. Its last output:\n  ${watch.tail.slice(-15).join('\n  ')}`);
      if (Date.now() > deadline) {
        const status = await this.agentStatus();
        throw new Error(`the engine did not answer /_ping within ${deadlineMs / 1000}s. Agent status: ${JSON.stringify(status?.services ?? 'unreachable')}. Last output:\n  ${watch.tail.slice(-15).join('\n  ')}`);
      }
      await sleep(25);
    }
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
