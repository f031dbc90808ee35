import * as z from '../../common/zod.js';
import { httpJson, type HttpTarget } from '../../common/http-client.js';
import { sleep } from '../../common/process.js';
import type { EngineUsage } from '../../bootstrap-distro/agent/status-schema.js';
import { KEEP_CONTAINER, KEEP_ENGINE, SAMPLE_MS } from './usage-window.js';

/** Where the live charts' figures come from. */
export interface UsageSource {
  /** The engine cgroup's counters, and whether Resource Saver has paused it; undefined when the engine is down. */
  engine(): Promise<{ usage: EngineUsage; paused: boolean } | undefined>;
  /** The Engine API, reached without waking a paused engine: a page watching is not activity. */
  daemon: HttpTarget;
}

/** The engine at one moment, as rates since the sample before (CPU: % of one core; the rest: bytes, or bytes per second). */
export interface EnginePoint {
  t: number;
  cpu: number;
  memory: number;
  ioRead: number;
  ioWrite: number;
  netRx: number;
  netTx: number;
}
export interface ContainerPoint {
  t: number;
  cpu: number;
  memory: number;
}
export interface UsageUpdate {
  engine?: EnginePoint;
  /** By the container's short id (12 characters, as the pages show it). */
  containers: Record<string, ContainerPoint>;
}
export interface UsageHistory {
  engine: EnginePoint[];
  containers: Record<string, ContainerPoint[]>;
}

const listSchema = z.array(z.object({ Id: z.string() }));
/** The parts of the Engine API's stats document the charts use (cgroup v1 and v2 daemons). */
const statsSchema = z.object({
  /** When the engine read the figures: rates are over the time between two of these. */
  read: z.string(),
  cpu_stats: z.object({ cpu_usage: z.object({ total_usage: z.number() }) }),
  memory_stats: z.object({ usage: z.number().optional(), stats: z.record(z.string(), z.number()).optional() }),
  networks: z.record(z.string(), z.object({ rx_bytes: z.number(), tx_bytes: z.number() })).optional(),
});

interface Counters {
  at: number;
  cpuNs: number;
  rx: number;
  tx: number;
}

/** Bytes per second (or CPU % of a core, for nanoseconds ×100) between two readings; 0 across a reset. */
const rate = (now: number, before: number | undefined, seconds: number) => (before === undefined || now < before || seconds <= 0 ? 0 : (now - before) / seconds);

/**
 * The live charts' figures: one sampler for all the dashboard's pages, which samples only
 * while a page listens (every 2 s: the engine's cgroup, and each running container's stats)
 * and keeps 15 minutes of the engine and a minute of each container.
 */
export class UsageSampler {
  private readonly listeners = new Set<(u: UsageUpdate) => void>();
  private readonly engine: EnginePoint[] = [];
  private readonly containers = new Map<string, ContainerPoint[]>();
  private lastEngine: (EngineUsage & { at: number }) | undefined;
  private readonly lastContainers = new Map<string, Counters>();
  private readonly netRates = new Map<string, { rx: number; tx: number }>();
  private running = false;

  constructor(
    private readonly source: UsageSource,
    private readonly intervalMs = SAMPLE_MS,
  ) {}

  history(): UsageHistory {
    return { engine: [...this.engine], containers: Object.fromEntries(this.containers) };
  }

  /** Calls `listener` with each sample until the returned function is called. */
  subscribe(listener: (u: UsageUpdate) => void): () => void {
    this.listeners.add(listener);
    if (!this.running) void this.loop();
    return () => void this.listeners.delete(listener);
  }

  private async loop(): Promise<void> {
    this.running = true;
    while (this.listeners.size > 0) {
      const update = await this.sample().catch(() => ({ containers: {} }));
      for (const l of this.listeners) l(update);
      await sleep(this.intervalMs);
    }
    this.running = false;
  }

  /** One sample: the engine's rates, and each running container's. */
  async sample(now = Date.now()): Promise<UsageUpdate> {
    const engine = await this.source.engine();
    if (!engine) {
      this.lastEngine = undefined;
      return { containers: {} };
    }
    // A paused engine is frozen: its containers cannot answer, and use nothing.
    const containers = engine.paused ? {} : await this.sampleContainers(now);
    const point = this.enginePoint(engine.usage, now, Object.keys(containers));
    return { ...(point ? { engine: point } : {}), containers };
  }

  /** The engine's rates since the reading before; undefined for the first reading (counters only, no rate yet). */
  private enginePoint(usage: EngineUsage, now: number, sampled: string[]): EnginePoint | undefined {
    const before = this.lastEngine;
    this.lastEngine = { ...usage, at: now };
    if (!before) return undefined;
    const seconds = (now - before.at) / 1000;
    // The network: what the containers sent and received (the engine's own traffic is theirs).
    let netRx = 0;
    let netTx = 0;
    for (const id of sampled) {
      netRx += this.netRates.get(id)?.rx ?? 0;
      netTx += this.netRates.get(id)?.tx ?? 0;
    }
    const point: EnginePoint = {
      t: now,
      cpu: rate(usage.cpuNs ?? 0, before?.cpuNs, seconds) / 1e7,
      memory: usage.memoryBytes ?? 0,
      ioRead: rate(usage.ioReadBytes ?? 0, before?.ioReadBytes, seconds),
      ioWrite: rate(usage.ioWriteBytes ?? 0, before?.ioWriteBytes, seconds),
      netRx,
      netTx,
    };
    this.engine.push(point);
    if (this.engine.length > KEEP_ENGINE) this.engine.shift();
    return point;
  }

  private async sampleContainers(now: number): Promise<Record<string, ContainerPoint>> {
    const list = await httpJson(this.source.daemon, { path: '/containers/json' }, listSchema).catch(() => []);
    const ids = list.map((c) => c.Id.slice(0, 12));
    const stats = await Promise.all(list.map((c) => httpJson(this.source.daemon, { path: `/containers/${c.Id}/stats?stream=false&one-shot=true` }, statsSchema).catch(() => undefined)));
    const out: Record<string, ContainerPoint> = {};
    stats.forEach((s, i) => {
      const point = s ? this.containerPoint(ids[i]!, s, now) : undefined;
      if (point) out[ids[i]!] = point;
    });
    for (const id of [...this.containers.keys()].filter((known) => !ids.includes(known))) {
      this.containers.delete(id);
      this.lastContainers.delete(id);
      this.netRates.delete(id);
    }
    return out;
  }

  /** A container's rates since its reading before; undefined for its first (a 0 there would be no measurement). */
  private containerPoint(id: string, s: z.infer<typeof statsSchema>, now: number): ContainerPoint | undefined {
    const before = this.lastContainers.get(id);
    const at = Date.parse(s.read) || now;
    const nets = Object.values(s.networks ?? {});
    const counters = { at, cpuNs: s.cpu_stats.cpu_usage.total_usage, rx: nets.reduce((a, n) => a + n.rx_bytes, 0), tx: nets.reduce((a, n) => a + n.tx_bytes, 0) };
    this.lastContainers.set(id, counters);
    if (!before) return undefined;
    const seconds = (at - before.at) / 1000;
    // As `docker stats`: the inactive file cache is not the container's to count.
    const cache = s.memory_stats.stats?.inactive_file ?? s.memory_stats.stats?.total_inactive_file ?? 0;
    const point = { t: now, cpu: rate(counters.cpuNs, before.cpuNs, seconds) / 1e7, memory: Math.max(0, (s.memory_stats.usage ?? 0) - cache) };
    this.netRates.set(id, { rx: rate(counters.rx, before.rx, seconds), tx: rate(counters.tx, before.tx, seconds) });
    const series = this.containers.get(id) ?? [];
    series.push(point);
    if (series.length > KEEP_CONTAINER) series.shift();
    this.containers.set(id, series);
    return point;
  }
}
