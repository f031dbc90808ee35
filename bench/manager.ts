import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { bareDockerdUntilPing } from './bootstrap.js';
import { type BenchRow, timeRuns } from './measure.js';

const BERTH = join(dirname(fileURLToPath(import.meta.url)), '../../bin/berth');

/**
 * `berth enable` on a fresh machine (build, import, start), `berth start` on imported
 * distros against a bare dockerd start in the same run, and the backend's resident memory.
 */
export async function benchManager(runs = 3): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'berth-bench-mgr-'));
  const env = { ...process.env, BERTH_WSL_ROOT: join(root, 'wsl'), BERTH_HOME: join(root, 'home'), DOCKER_CONFIG: join(root, 'docker'), BERTH_WSL_IDLE_TIMEOUT: '15' };
  const berth = (args: string[]) => execa(BERTH, args, { env });
  try {
    const t0 = Date.now();
    await berth(['enable']);
    const enableSeconds = (Date.now() - t0) / 1000;
    const start = await timeRuns(runs, async () => void (await berth(['stop'])), async () => void (await berth(['start'])));
    const status = JSON.parse((await berth(['status', '--json'])).stdout) as { pid: number };
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${status.pid}/status`, 'utf8'))?.[1]);
    await berth(['stop']);
    const bare = await timeRuns(runs, undefined, () => bareDockerdUntilPing(root));
    return {
      rows: [{ figure: 'berth start to running (ms, median)', berth: start, baseline: bare, baselineName: 'bare dockerd', goal: 1.3 }],
      notes: [`first berth enable (build + import + start): ${enableSeconds.toFixed(1)} s`, `backend RSS while running: ${(rssKiB / 1024).toFixed(1)} MiB`],
    };
  } finally {
    await execa(BERTH, ['stop'], { env, reject: false });
    await execa(join(dirname(BERTH), 'berth-wsl'), ['--shutdown'], { env, reject: false });
    rmSync(root, { recursive: true, force: true });
  }
}
