import { readFile, readlink, mkdir, rm, statfs } from 'node:fs/promises';
import type { Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { serveUdpForwarder } from '../../common/port-forward/forward.js';
import { serveNativeForwarder } from '../../common/port-forward/native-relay.js';
import { publishedTargets } from '../../common/port-forward/published-targets.js';

/** Published ports arrive here, from the host and from the WSL network namespace. */
export const FORWARD_SOCKET = sharedPath('forwardSocket');
export const FORWARD_UDP_SOCKET = sharedPath('forwardUdpSocket');
import { serveControl, type AgentStatus } from './control.js';
import { COMPILED_LINUXKIT, readCompiledLinuxkit } from './linuxkit.js';
import { paths } from './paths.js';
import { dockerPing } from '../../common/docker-api.js';
import { dismantleRoot } from './root.js';
import { DEFAULT_POLICY, SupervisedService, type LogSink, type RestartPolicy } from './service.js';
import { EngineInit, readableFd } from './engine-init.js';
import { LogDaemon } from '../logd/daemon.js';
import { LogWriter, RotatingFiles } from '../logd/writer.js';
import { connect } from 'node:net';
import { setPriority } from 'node:os';
import { EngineFreezer } from './engine-freezer.js';
import { engineCgroupLayout, type CgroupLayout } from './engine-cgroup.js';
import { engineUsage } from './engine-usage.js';
import type { EngineUsage } from './status-schema.js';
import { ResourceSaver } from './resource-saver.js';
import { logUnhandled } from '../../common/unhandled.js';

export interface SuperviseOptions {
  /** berth-engine-init's event pipe, then the log streams of the plan's entries. */
  initFds: number[];
  dataStore: string;
  /** The LinuxKit YAML; by default the system image's /etc/berth/linuxkit.yml. */
  configFile?: string;
  stopDeadlineMs: number;
  /** Resource Saver: pause the engine after this many quiet seconds (0: never). */
  autoPauseSeconds?: number;
  /** The engine's cgroup (Resource Saver freezes it). */
  cgroup?: string | undefined;
  policy?: RestartPolicy;
  logs: { ringLines: number; lineBytes: number; fileBytes: number; files: number };
}

/** Sockets of the log daemon: ingest (local), query (local, and published for the host). */
export const LOG_INGEST = '/run/berth/logd-ingest.sock';
export const LOG_QUERY = '/run/berth/logd.sock';
export { LOG_QUERY_PUBLISHED } from './supervisor-paths.js';
import { LOG_QUERY_PUBLISHED, READY_BACKSTOP_MS } from './supervisor-paths.js';
import { SocketWatch } from '../../common/socket-watch.js';
import { sharedPath } from '../../common/shared-area.js';
import { sleep } from '../../common/process.js';

/** Logged once the engine answers /_ping. */
export const READY_LINE = 'berth-agent: engine ready';

/**
 * Runs in the root's own namespaces, started by berth-engine-init (their pid 1), which
 * meanwhile assembles the root, runs the onboot actions and starts the services: this
 * process takes their logs and their status, then supervises the services until asked to
 * stop.
 *
 * A failing onboot action stops the start: the engine would run on a half-prepared
 * root otherwise. The error names the action and shows its last output lines.
 */
export async function supervise(options: SuperviseOptions): Promise<number> {
  // Whoever started us may go away; losing our output must not take the engine down.
  process.stdout.on('error', () => {});
  // The log daemon starts first, so it has every line from the first onboot action on.
  const daemon = new LogDaemon({ maxLines: options.logs.ringLines, maxLineBytes: options.logs.lineBytes });
  await mkdir(paths.publishDir, { recursive: true });
  await mkdir(paths.runDir, { recursive: true });
  await daemon.listen(LOG_INGEST, [LOG_QUERY, LOG_QUERY_PUBLISHED]);
  const [eventsFd, ...logFds] = options.initFds;
  // Each of berth-engine-init's log streams starts with its source line.
  for (const stream of logFds.map(readableFd)) daemon.ingest(stream);
  const log = (line: string) => {
    process.stdout.write(`${line}\n`);
    daemon.log('agent', line.replace(/^berth-agent: /, ''));
  };
  logUnhandled(log, 'berth-agent');
  const distroPid = Number(await readlink('/proc/self')); // /proc is still the distro's: its view of our pid
  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  const init = new EngineInit(readableFd(eventsFd!), log);
  const supervision: Supervision = new Supervision(options, init, daemon, log, distroPid, () => void supervision.stop(0).then(stopped));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void supervision.stop(0).then(stopped));
  try {
    await supervision.bringUp();
  } catch (e) {
    log(`berth-agent: start failed: ${(e as Error).message}`);
    return supervision.stop(1);
  }
  return done;
}

/** The engine's root, services and sockets while they run, and their orderly end. */
class Supervision {
  private state: AgentStatus['state'] = 'starting';
  private engine: AgentStatus['engine'] = 'starting';
  private readonly onboot: AgentStatus['onboot'] = [];
  private readonly startedAt = new Date().toISOString();
  private services: SupervisedService[] = [];
  private writer: LogWriter | undefined;
  private forwarder: Server | undefined;
  private tcpForwarder: { close(): Promise<void> } | undefined;
  private control: HttpServer | undefined;
  private saver: ResourceSaver | undefined;
  private stopping: Promise<number> | undefined;
  private readonly logs: LogSink;

  constructor(
    private readonly options: SuperviseOptions,
    private readonly init: EngineInit,
    private readonly daemon: LogDaemon,
    private readonly log: (line: string) => void,
    private readonly distroPid: number,
    /** POST /stop: the whole supervisor ends, as on SIGTERM. */
    private readonly requestStop: () => void,
  ) {
    this.logs = {
      stream: (source) =>
        new Promise((resolve, reject) => {
          const s = connect(LOG_INGEST);
          s.once('error', reject);
          s.once('connect', () => s.write(`${source}\n`, () => resolve(s)));
        }),
      last: (name, n) =>
        daemon.ring
          .dump()
          .filter((e) => e.source === name || e.source === `${name}.out`)
          .slice(-n)
          .map((e) => e.msg),
      agent: (line) => log(`berth-agent: ${line}`),
    };
  }

  /** The root, its logs, the forwarders, the control socket, the onboot actions, the services. */
  async bringUp(): Promise<void> {
    const { options, log, init } = this;
    await init.root();
    // The store is mounted: persist every line, the ones logged so far included.
    this.writer = new LogWriter(LOG_QUERY, new RotatingFiles(`${paths.root}/var/lib/log`, { maxBytes: options.logs.fileBytes, maxFiles: options.logs.files }), (l) => log(`berth-agent: ${l}`));
    // A --config YAML (tests, a user's own) is parsed here; the image's own is compiled JSON.
    const config = options.configFile
      ? (await import('./linuxkit-yaml.js')).parseLinuxkit(await readFile(options.configFile, 'utf8'), options.configFile)
      : await readCompiledLinuxkit(`${paths.root}/${COMPILED_LINUXKIT}`);
    const published = publishedTargets(async () => connect(paths.dockerSocket));
    // Loaded: back to normal priority (berth-engine-init started us at a low one), before
    // anything forked here inherits it.
    setPriority(0);
    this.tcpForwarder = await serveNativeForwarder(paths.relay, FORWARD_SOCKET, published, (l) => log(`berth-agent: ${l}`));
    this.forwarder = await serveUdpForwarder(FORWARD_UDP_SOCKET, (l) => log(`berth-agent: ${l}`), published);
    this.control = await serveControl(paths.controlSocket, {
      status: () => this.status(),
      stop: () => this.requestStop(),
      touch: () => this.saver?.touch() ?? Promise.resolve(),
    });
    for (const action of config.onboot) {
      const result = await init.onboot(action.name);
      if (!result) throw new Error(`berth-engine-init did not run the onboot action "${action.name}" (its boot plan ended first; is the plan from another config?)`);
      this.onboot.push({ name: action.name, exitCode: result.exitCode, seconds: result.ms / 1000 });
      if (result.exitCode !== 0) {
        // Only a failure shows the tail: the daemon reads the last bytes a moment after the exit.
        await sleep(50);
        const tail = this.logs.last(action.name, 10);
        throw new Error(`onboot action "${action.name}" failed with exit code ${result.exitCode}; its last output:\n  ${tail.join('\n  ') || '(none)'}`);
      }
    }
    this.services = config.services.map((entry) => new SupervisedService(entry, this.logs, options.policy ?? DEFAULT_POLICY));
    for (const service of this.services) {
      const first = await init.started(service.entry.name);
      if (!first) throw new Error(`berth-engine-init did not start the service "${service.entry.name}" (its boot plan ended first; is the plan from another config?)`);
      service.adopt(first);
    }
    this.state = 'running';
    void this.whenEngineAnswers();
  }

  private async status(): Promise<AgentStatus> {
    return {
      state: this.state,
      engine: this.engine,
      pid: this.distroPid,
      startedAt: this.startedAt,
      dockerSocket: paths.dockerSocket,
      onboot: this.onboot,
      services: this.services.map((s) => s.snapshot()),
      ...(this.writer?.problem ? { logWriter: this.writer.problem } : {}),
      ...(await storeDisk(this.options.dataStore)),
      ...(this.saver ? { paused: this.saver.isPaused } : {}),
      ...(await this.engineUsage()),
    };
  }

  private cgroupLayout: Promise<CgroupLayout> | undefined;
  /** The engine's cgroup's use, for the dashboard's charts. */
  private async engineUsage(): Promise<{ usage?: EngineUsage }> {
    if (!this.options.cgroup) return {};
    this.cgroupLayout ??= engineCgroupLayout(this.options.cgroup);
    const layout = await this.cgroupLayout.catch(() => undefined);
    return layout ? { usage: await engineUsage(layout) } : {};
  }

  /** Once dockerd answers: ready, and Resource Saver watches for quiet. */
  private async whenEngineAnswers(): Promise<void> {
    const socket = new SocketWatch(paths.dockerSocket);
    try {
      while (!this.stopping && !(await dockerPing(paths.dockerSocket, 500))) await socket.changed(READY_BACKSTOP_MS);
    } finally {
      socket.close();
    }
    if (this.stopping) return;
    this.engine = 'ready';
    this.log(READY_LINE);
    const { autoPauseSeconds, cgroup } = this.options;
    if (!autoPauseSeconds || !cgroup) return;
    try {
      this.saver = new ResourceSaver({ timeoutSeconds: autoPauseSeconds, freezer: await EngineFreezer.open(cgroup), daemon: paths.dockerSocket, log: this.log, now: Date.now });
      this.saver.start();
    } catch (e) {
      this.log(`berth-agent: Resource Saver is off: ${(e as Error).message}`);
    }
  }

  stop(code: number): Promise<number> {
    this.stopping ??= this.stopNow(code);
    return this.stopping;
  }

  private async stopNow(code: number): Promise<number> {
    const { log } = this;
    this.state = 'stopping';
    log('berth-agent: stopping services');
    // A frozen engine cannot stop: it resumes first.
    await this.saver?.stop().catch((e: Error) => log(`berth-agent: ${e.message}`));
    for (const s of [...this.services].reverse()) await s.stop(this.options.stopDeadlineMs);
    this.control?.close();
    this.forwarder?.close();
    await this.tcpForwarder?.close();
    await rm(FORWARD_SOCKET, { force: true });
    await rm(FORWARD_UDP_SOCKET, { force: true });
    // Let the writer take the last lines (the stop messages) before the store goes.
    await sleep(100);
    this.writer?.close();
    this.daemon.close();
    await rm(paths.controlSocket, { force: true });
    await rm(LOG_QUERY_PUBLISHED, { force: true });
    await rm(paths.dockerSocket, { force: true });
    const leftovers = await dismantleRoot();
    for (const problem of leftovers) log(`berth-agent: could not undo at stop: ${problem}`);
    log(leftovers.length ? `berth-agent: stopped, with ${leftovers.length} thing(s) not undone (above)` : 'berth-agent: stopped');
    return leftovers.length && code === 0 ? 1 : code;
  }
}

/** berth-data's disk as the engine's store sees it (the manager shows a full one in status). */
async function storeDisk(dataStore: string): Promise<{ disk?: { sizeBytes: number; availBytes: number } }> {
  const st = await statfs(dataStore).catch(() => undefined);
  return st ? { disk: { sizeBytes: st.blocks * st.bsize, availBytes: st.bavail * st.bsize } } : {};
}
