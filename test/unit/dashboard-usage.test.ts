import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineUsage } from '../../bootstrap-distro/agent/engine-usage.js';
import type { EngineUsage } from '../../bootstrap-distro/agent/status-schema.js';
import { UsageSampler } from '../../installer/dashboard/usage.js';

const root = mkdtempSync(join(tmpdir(), 'berth-usage-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function files(dir: string, contents: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(contents)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("the engine cgroup's use, as the agent reads it", () => {
  it('on cgroup v2: CPU from cpu.stat, memory without the inactive file cache, I/O summed over devices', async () => {
    const dir = files(join(root, 'v2'), {
      'cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n',
      'memory.current': '104857600\n',
      'memory.stat': 'anon 50000000\nfile 60000000\ninactive_file 4857600\n',
      'io.stat': '8:0 rbytes=1000 wbytes=2000 rios=3 wios=4\n8:16 rbytes=500 wbytes=0 rios=1 wios=0\n',
    });
    expect(await engineUsage({ version: 2, dirs: [{ dir, controllers: ['memory', 'cpu'] }] })).toEqual({ cpuNs: 2_500_000_000, memoryBytes: 100_000_000, ioReadBytes: 1500, ioWriteBytes: 2000 });
  });

  it('on cgroup v1: each figure from its own hierarchy; a hierarchy not mounted leaves its figure out', async () => {
    const cpuacct = files(join(root, 'v1/cpuacct/e'), { 'cpuacct.usage': '7000000000\n' });
    const memory = files(join(root, 'v1/memory/e'), { 'memory.usage_in_bytes': '3000\n', 'memory.stat': 'cache 10\ntotal_inactive_file 1000\n' });
    const layout = {
      version: 1 as const,
      dirs: [
        { dir: cpuacct, controllers: ['cpuacct'] },
        { dir: memory, controllers: ['memory'] },
      ],
    };
    expect(await engineUsage(layout)).toEqual({ cpuNs: 7_000_000_000, memoryBytes: 2000 });
    files(join(root, 'v1/blkio/e'), { 'blkio.throttle.io_service_bytes_recursive': '8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\n8:16 Read 4096\nTotal 16384\n' });
    layout.dirs.push({ dir: join(root, 'v1/blkio/e'), controllers: ['blkio'] });
    expect(await engineUsage(layout)).toMatchObject({ ioReadBytes: 8192, ioWriteBytes: 8192 });
  });
});

describe('the live charts’ sampler', () => {
  let daemon: Server;
  const socket = join(root, 'docker.sock');
  const requests: string[] = [];
  /** Each container's CPU time (ns) and when the engine read it: a test moves them on. */
  const containers = new Map<string, { cpuNs: number; read: number; rx: number }>();

  beforeAll(async () => {
    daemon = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/containers/json') return res.end(JSON.stringify([...containers.keys()].map((Id) => ({ Id }))));
      const id = /^\/containers\/(\w+)\/stats\?stream=false&one-shot=true$/.exec(req.url ?? '')?.[1];
      const c = id ? containers.get(id) : undefined;
      if (!c) return res.writeHead(404).end('{"message":"no such container"}');
      res.end(
        JSON.stringify({
          read: new Date(c.read).toISOString(),
          cpu_stats: { cpu_usage: { total_usage: c.cpuNs } },
          memory_stats: { usage: 5_000_000, stats: { inactive_file: 1_000_000 } },
          networks: { eth0: { rx_bytes: c.rx, tx_bytes: 0 } },
        }),
      );
    });
    await new Promise<void>((r) => daemon.listen(socket, r));
  });
  afterAll(() => daemon.close());

  it("turns counters into rates: a container's CPU as % of a core, the engine's from its cgroup, the network from the containers", async () => {
    let usage: EngineUsage = { cpuNs: 0, memoryBytes: 64 << 20, ioReadBytes: 0, ioWriteBytes: 0 };
    const sampler = new UsageSampler({ engine: async () => ({ usage, paused: false }), daemon: socket });
    const id = 'a'.repeat(64);
    containers.set(id, { cpuNs: 1e9, read: 1_000_000, rx: 0 });
    expect(await sampler.sample(1_000_000)).toEqual({ containers: {} }); // counters only: no rate yet, and no made-up 0
    // Two seconds on: the container used 1.5 s of CPU (75% of a core) and took in 2 MB; the engine used 3 s and wrote 4 MiB.
    containers.set(id, { cpuNs: 2.5e9, read: 1_002_000, rx: 2_000_000 });
    usage = { cpuNs: 3e9, memoryBytes: 70 << 20, ioReadBytes: 0, ioWriteBytes: 4 << 20 };
    const second = await sampler.sample(1_002_000);
    expect(second.containers.aaaaaaaaaaaa?.cpu).toBeCloseTo(75);
    expect(second.engine).toMatchObject({ t: 1_002_000, memory: 70 << 20, ioRead: 0, ioWrite: 2 << 20, netRx: 1_000_000, netTx: 0 });
    expect(second.engine?.cpu).toBeCloseTo(150);
    expect(second.containers.aaaaaaaaaaaa?.memory).toBe(4_000_000); // without the inactive file cache
    expect(sampler.history().containers.aaaaaaaaaaaa).toHaveLength(1);
    // The container is gone: so is its history.
    containers.clear();
    await sampler.sample(1_004_000);
    expect(sampler.history().containers).toEqual({});
    expect(sampler.history().engine).toHaveLength(2);
  });

  it('asks a paused engine nothing (it is frozen), and a stopped one gives no point', async () => {
    let engine: { usage: EngineUsage; paused: boolean } | undefined = { usage: { cpuNs: 5 }, paused: true };
    const sampler = new UsageSampler({ engine: async () => engine, daemon: socket });
    requests.length = 0;
    await sampler.sample(1000);
    expect((await sampler.sample(3000)).engine).toMatchObject({ cpu: 0, t: 3000 });
    expect(requests).toEqual([]);
    engine = undefined;
    expect(await sampler.sample(2)).toEqual({ containers: {} });
  });

  it('samples only while someone listens, and sends each listener every sample', async () => {
    const sampler = new UsageSampler({ engine: async () => ({ usage: { cpuNs: 0 }, paused: true }), daemon: socket }, 20);
    const seen: number[] = [];
    const stop = sampler.subscribe((u) => seen.push(u.engine?.t ?? 0));
    await new Promise((r) => setTimeout(r, 150));
    stop();
    const count = seen.length;
    expect(count).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 60)); // the sample under way when it stopped ends
    const kept = sampler.history().engine.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length).toBe(count);
    expect(sampler.history().engine.length).toBe(kept); // no more samples: nobody listens
  });
});
