import { createWriteStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { httpRequest } from '../common/http-client.js';
import { withIntegratedBerth, type BenchBerth } from './berth-env.js';
import type { BenchRow } from './measure.js';
import { sleep } from '../common/process.js';

const MIB = 2 ** 20;

/** The image file's allocated bytes (its holes cost nothing). */
function allocated(b: BenchBerth): number {
  return statSync(join(b.env.BERTH_HOME!, 'distros/berth-data/ext4.vhdx')).blocks * 512;
}

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(stepMs);
  }
  return false;
}

/** 1 GiB of random bytes as an image tarball (incompressible: the disk must really hold it). */
async function bigImageTarball(root: string): Promise<string> {
  const dir = join(root, 'big');
  mkdirSync(dir, { recursive: true });
  const out = createWriteStream(join(dir, 'blob'));
  const chunk = Buffer.alloc(16 * MIB);
  for (let i = 0; i < 64; i++) if (!out.write(randomFillSync(Buffer.from(chunk)))) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((r) => out.end(() => r()));
  const tarball = join(root, 'big.tar');
  await execa('tar', ['-C', dir, '-cf', tarball, '.']);
  return tarball;
}

/** One load + prune cycle; returns the image file's growth left after `settle` and how long that took. */
async function pruneCycle(b: BenchBerth, tarball: string, settle: () => Promise<void>): Promise<{ leftMiB: number; loadedMiB: number; seconds: number }> {
  const before = allocated(b);
  await b.docker(['import', tarball, 'big:1']);
  await execa('sync');
  const loaded = allocated(b);
  await b.docker(['system', 'prune', '-af']);
  const t0 = Date.now();
  await settle();
  await waitUntil(() => allocated(b) - before < 64 * MIB, 120_000);
  return { leftMiB: Math.max(0, (allocated(b) - before) / MIB), loadedMiB: (loaded - before) / MIB, seconds: (Date.now() - t0) / 1000 };
}

/**
 * berth-data's disk: after 1 GiB of images and `docker system prune -af`, the image file
 * shrinks by itself (Berth follows the engine's events and trims) against a trim run by
 * hand at once; Resource Saver's first request after a resume against a warm request; and a
 * move of the disk against an engine restart (the part of a move no copy can save).
 */
export async function benchDataDisk(): Promise<{ rows: BenchRow[]; notes: string[] }> {
  return withIntegratedBerth('data', async (b) => {
    const tarball = await bigImageTarball(b.root);
    // Berth by itself: nothing but the prune.
    const auto = await pruneCycle(b, tarball, async () => {});
    // By hand, at once (what a user of a disk that never shrinks would have to do after every prune).
    const byHand = await pruneCycle(b, tarball, async () => void (await b.wsl(['-d', 'berth-data', '--exec', 'sh', '-c', 'sync -f / && fstrim /'])));
    const rows: BenchRow[] = [
      { figure: 'image file growth left after 1 GiB load + prune (MiB)', berth: auto.leftMiB, baseline: auto.loadedMiB, baselineName: 'never trimmed (a plain WSL disk)', goal: undefined, limit: 64 },
      { figure: 'prune → space back on the host (s)', berth: auto.seconds, baseline: byHand.seconds, baselineName: 'fstrim by hand at once', goal: undefined, limit: 60 },
    ];

    // Resource Saver: pause after 30 s, then one request through the host endpoint.
    await b.berth(['stop']);
    const settingsFile = join(b.env.BERTH_HOME!, 'settings.json');
    writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(readFileSync(settingsFile, 'utf8')), autoPauseTimeoutSeconds: 30 }));
    await b.berth(['start']);
    const endpoint = join(b.env.BERTH_HOME!, 'run/docker.sock');
    const ping = async () => {
      const t0 = process.hrtime.bigint();
      const r = await httpRequest(endpoint, { path: '/_ping', timeoutMs: 30_000 });
      if (r.status !== 200) throw new Error(`/_ping answered ${r.status}`);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const warm: number[] = [];
    const paused = async () => (JSON.parse((await b.berth(['status', '--json'])).stdout as string) as { paused?: boolean }).paused === true;
    const resumes: number[] = [];
    for (let i = 0; i < 2; i++) {
      if (!(await waitUntil(paused, 90_000, 1000))) throw new Error('the engine did not pause within 90 s');
      resumes.push(await ping());
      // Warm requests right after, on the same path.
      for (let j = 0; j < 10; j++) warm.push(await ping());
    }
    warm.sort((x, y) => x - y);
    rows.push({
      figure: 'first /_ping after a Resource Saver pause (ms, mean of 2)',
      berth: resumes.reduce((x, y) => x + y) / resumes.length,
      baseline: warm[10]!,
      baselineName: 'warm /_ping, median',
      goal: undefined,
      limit: 100,
    });

    // Moving the disk (the default size, mostly holes): the whole `berth data move` (engine stop,
    // copy, verify, switch, start) against what it cannot avoid, an engine restart.
    const image = join(b.env.BERTH_HOME!, 'distros/berth-data/ext4.vhdx');
    const apparentGiB = statSync(image).size / 2 ** 30;
    const dataMiB = allocated(b) / MIB;
    const r0 = Date.now();
    await b.berth(['stop']);
    await b.berth(['start']);
    const restartSeconds = (Date.now() - r0) / 1000;
    const m0 = Date.now();
    await b.berth(['data', 'move', join(b.root, 'moved')]);
    const moveSeconds = (Date.now() - m0) / 1000;
    rows.push({ figure: `berth data move, ${apparentGiB.toFixed(0)} GiB disk holding ${dataMiB.toFixed(0)} MiB (s)`, berth: moveSeconds, baseline: restartSeconds, baselineName: 'berth stop + berth start', goal: 2 });
    return {
      rows,
      notes: [
        `prune cycle: 1 GiB load grew the image file by ${auto.loadedMiB.toFixed(0)} MiB; ${auto.leftMiB.toFixed(0)} MiB of it left ${auto.seconds.toFixed(1)} s after the prune (by hand: ${byHand.leftMiB.toFixed(0)} MiB after ${byHand.seconds.toFixed(1)} s)`,
      ],
    };
  });
}
