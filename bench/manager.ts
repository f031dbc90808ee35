import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { bareDockerdUntilPing } from './bootstrap.js';
import { httpRequest } from '../common/http-client.js';
import { type BenchRow, interleavedMedians, timed } from './measure.js';

const BERTH = join(dirname(fileURLToPath(import.meta.url)), '../../bin/berth');

/**
 * `berth enable` on a fresh machine (build, import, start), `berth start` on imported
 * distros against a bare dockerd start in the same run, and the backend's resident memory.
 */
/** The engine stops; the backend stays (what the dashboard's Stop does). */
async function stopEngineOnly(backendSocket: string): Promise<void> {
  const r = await httpRequest(backendSocket, { method: 'POST', path: '/api/v1/engine/stop', timeoutMs: 60_000 });
  if (r.status !== 200) throw new Error(`bench manager: the engine did not stop (${r.status}: ${r.body})`);
}

export async function benchManager(runs = 5): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'berth-bench-mgr-'));
  const env = { ...process.env, BERTH_WSL_ROOT: join(root, 'wsl'), BERTH_HOME: join(root, 'home'), DOCKER_CONFIG: join(root, 'docker'), BERTH_WSL_IDLE_TIMEOUT: '15' };
  const berth = (args: string[]) => execa(BERTH, args, { env });
  const wsl = (args: string[]) => execa(join(dirname(BERTH), 'berth-wsl'), args, { env });
  try {
    const t0 = Date.now();
    await berth(['enable']);
    const enableSeconds = (Date.now() - t0) / 1000;
    const status = JSON.parse((await berth(['status', '--json'])).stdout) as { pid: number };
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${status.pid}/status`, 'utf8'))?.[1]);
    // Warm: the engine stopped, the backend and the WSL VM still up. Cold: nothing of Berth
    // running (the backend stopped, the WSL VM shut down). Set-up is outside the timed part.
    const figures = await interleavedMedians(
      {
        warm: timed(
          () => berth(['start']),
          async () => {
            await berth(['start']); // the backend up (a cold round stopped it)
            await stopEngineOnly(join(env.BERTH_HOME, 'run/backend.sock'));
          },
        ),
        cold: timed(
          () => berth(['start']),
          async () => {
            await berth(['stop']);
            await wsl(['--shutdown']);
          },
        ),
        bare: timed(
          () => bareDockerdUntilPing(root),
          () => berth(['stop']),
        ),
        bareKept: timed(
          () => bareDockerdUntilPing(root, { keptData: join(root, 'bare-kept') }),
          () => berth(['stop']),
        ),
        bareKeptLegacy: timed(
          () => bareDockerdUntilPing(root, { keptData: join(root, 'bare-kept-legacy'), legacyIptables: true }),
          () => berth(['stop']),
        ),
      },
      runs,
    );
    return {
      rows: [
        { figure: `berth start to running, backend up (ms, median of ${runs})`, berth: figures.warm, baseline: figures.bare, baselineName: 'bare dockerd', goal: 1.5 },
        { figure: `berth start to running, nothing of Berth running (ms, median of ${runs})`, berth: figures.cold, baseline: figures.bare, baselineName: 'bare dockerd', goal: 2.5 },
        // A warm start keeps the engine's data: its peer is a bare dockerd started again on its own.
        { figure: `peer: berth start, backend up, against dockerd on kept data (ms, median of ${runs})`, berth: figures.warm, baseline: figures.bareKept, baselineName: 'bare dockerd, data kept', goal: undefined },
        // Berth's engine uses iptables' legacy backend (common/engine-iptables.ts); the same bare start with it.
        {
          figure: `peer: berth start, backend up, against dockerd on kept data, legacy iptables (ms, median of ${runs})`,
          berth: figures.warm,
          baseline: figures.bareKeptLegacy,
          baselineName: 'bare dockerd, data kept, legacy',
          goal: undefined,
        },
      ],
      notes: [`first berth enable (build + import + start): ${enableSeconds.toFixed(1)} s`, `backend RSS while running: ${(rssKiB / 1024).toFixed(1)} MiB`],
    };
  } finally {
    await execa(BERTH, ['stop'], { env, reject: false });
    await execa(join(dirname(BERTH), 'berth-wsl'), ['--shutdown'], { env, reject: false });
    rmSync(root, { recursive: true, force: true });
  }
}
