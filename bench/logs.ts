import type { Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogDaemon } from '../bootstrap-distro/logd/daemon.js';
import type { BenchRow } from './measure.js';
import { sleep } from '../common/process.js';

const LINES = 1_000_000;

/** Lines/s of `seq` writers into the log daemon vs the same bytes into a plain pipe. */
async function ingest(writers: number, daemon: LogDaemon | undefined, ingestPath: string): Promise<number> {
  const per = Math.floor(LINES / writers);
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: writers }, async (_, i) => {
      let stdout: 'pipe' | Socket = 'pipe';
      if (daemon) {
        const s = connect(ingestPath);
        await new Promise((r) => s.once('connect', r));
        await new Promise((r) => s.write(`w${i}.out\n`, r));
        stdout = s;
      }
      const child = spawn('seq', [String(per)], { stdio: ['ignore', stdout, 'inherit'] });
      if (typeof stdout !== 'string') stdout.destroy();
      // The baseline reads the pipe as fast as it can and drops the bytes.
      child.stdout?.on('data', () => {});
      await new Promise((r) => child.on('close', r));
    }),
  );
  if (daemon) {
    // Done when the last writer's last line is in the ring.
    while (!daemon.ring.dump().some((e) => e.msg === String(per))) await sleep(1);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return (per * writers) / seconds;
}

export async function benchLogs(): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-logs-'));
  try {
    const rows: BenchRow[] = [];
    for (const writers of [1, 8]) {
      const daemon = new LogDaemon();
      const path = join(dir, `ingest-${writers}.sock`);
      await daemon.listen(path, [join(dir, `query-${writers}.sock`)]);
      const berth = await ingest(writers, daemon, path);
      daemon.close();
      const pipe = await ingest(writers, undefined, path);
      // Throughput: higher is better, so the ratio is baseline time over Berth time.
      rows.push({ figure: `ingest, ${writers} writer(s) (µs per 1000 lines)`, berth: 1e9 / berth, baseline: 1e9 / pipe, baselineName: 'plain pipe', goal: undefined });
    }
    const before = process.memoryUsage().rss;
    const full = new LogDaemon();
    for (let i = 0; i < 20_000; i++) full.log('big', 'x'.repeat(1100));
    const rssMiB = process.memoryUsage().rss / 2 ** 20;
    full.close();
    return { rows, notes: [`log daemon at a full ring (5000 lines of 1 KiB): process RSS ${rssMiB.toFixed(0)} MiB (+${((process.memoryUsage().rss - before) / 2 ** 20).toFixed(0)} MiB)`] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
