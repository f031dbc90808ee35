import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { makeRootfsTarball } from '../test/helpers/busybox-distro.js';
import { type BenchRow, timeRuns } from './measure.js';

export const BERTH_WSL = join(dirname(fileURLToPath(import.meta.url)), '../../bin/berth-wsl');

/**
 * `--exec true` through bin/berth-wsl against `nsenter … true` into the same running distro
 * (the bare cost of entering its namespaces), and the first start of a distro.
 */
export async function benchWslHost(runs = 30): Promise<BenchRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'berth-bench-wsl-'));
  const env = { BERTH_WSL_ROOT: root, WSL_UTF8: '1', BERTH_WSL_IDLE_TIMEOUT: '0' };
  const wsl = (args: string[]) => execa(BERTH_WSL, args, { env });
  try {
    const tarball = await makeRootfsTarball(root, 'bench');
    await wsl(['--import', 'bench', join(root, 'distros/bench'), tarball]);

    const firstStart = await timeRuns(
      5,
      async () => {
        await wsl(['--terminate', 'bench']);
      },
      async () => {
        await wsl(['-d', 'bench', '--exec', 'true']);
      },
    );
    const warmExec = await timeRuns(runs, undefined, async () => {
      await wsl(['-d', 'bench', '--exec', 'true']);
    });
    const init = initPid(root);
    const nsenter = await timeRuns(runs, undefined, async () => {
      await execa('nsenter', ['-t', String(init), '-m', '-u', '-i', '-n', '-p', '-r', '-w', 'true']);
    });
    const nodeStart = await timeRuns(runs, undefined, async () => {
      await execa(process.execPath, ['-e', '']);
    });
    return [
      { figure: 'wsl --exec true (ms, median)', berth: warmExec, baseline: nsenter, baselineName: 'nsenter true', goal: 3 },
      { figure: 'wsl --exec true (ms, median)', berth: warmExec, baseline: nodeStart, baselineName: "node -e ''", goal: undefined },
      { figure: 'first start + --exec true (ms, median)', berth: firstStart, baseline: warmExec, baselineName: 'warm --exec true', goal: undefined },
    ];
  } finally {
    await execa(BERTH_WSL, ['--shutdown'], { env, reject: false });
    rmSync(root, { recursive: true, force: true });
  }
}

function initPid(root: string): number {
  const reg = JSON.parse(readFileSync(join(root, 'registry.json'), 'utf8')) as { distros: Array<{ id: string }> };
  const init = JSON.parse(readFileSync(join(root, 'run/distros', reg.distros[0]!.id, 'init.json'), 'utf8')) as { pid: number };
  return init.pid;
}
