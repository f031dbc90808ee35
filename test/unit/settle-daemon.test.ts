import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { DAEMON_NODE_FLAGS } from '../../common/node-flags.js';
import { REPO } from '../helpers/wsl-root.js';

/**
 * A daemon's process as Berth launches it (Node's own flags only), with or without
 * settleAsDaemon: how big its young generation gets under an allocating load, and whether
 * TurboFan compiles a hot function (V8's --trace-opt says so on stdout).
 */
async function daemonAfterLoad(settled: boolean): Promise<{ youngAfter: number; optimized: boolean }> {
  const script = `import { settleAsDaemon } from ${JSON.stringify(join(REPO, 'dist/common/settle-daemon.js'))};
    import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
    const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    ${settled ? 'settleAsDaemon();' : ''}
    // Young objects kept alive across scavenges: V8 grows the young generation for them.
    const kept = [];
    for (let round = 0; round < 200; round++) {
      const batch = [];
      for (let i = 0; i < 20000; i++) batch.push({ i, s: 'x' + i });
      kept.push(batch);
      if (kept.length > 10) kept.shift();
    }
    const youngAfter = young();
    setFlagsFromString('--trace-opt');
    const hot = (x) => x * 2 + 1;
    let sum = 0;
    for (let i = 0; i < 2e7; i++) sum += hot(i);
    console.log('RESULT ' + JSON.stringify({ youngAfter, sum }));
    process.exit(0);`;
  const r = await execa(process.execPath, [...DAEMON_NODE_FLAGS, '--input-type=module', '-e', script], { reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  const result = JSON.parse(/^RESULT (.*)$/m.exec(r.stdout)![1]!) as { youngAfter: number };
  return { ...result, optimized: /TURBOFAN/.test(r.stdout) };
}

/** The young generation's size (V8's new_space) that `--max-semi-space-size=1` on the command line held a daemon to, under the same load. */
const YOUNG_CAP = 2 * 1024 * 1024;

describe('a daemon settled once its modules are loaded (common/settle-daemon.ts)', () => {
  it('keeps its young generation as small as the command-line flag did, and never compiles with TurboFan', async () => {
    const settled = await daemonAfterLoad(true);
    expect(settled.youngAfter).toBeLessThanOrEqual(YOUNG_CAP);
    expect(settled.optimized).toBe(false);
  });

  it('is what makes the difference: the same load unsettled grows the young generation and optimizes', async () => {
    const unsettled = await daemonAfterLoad(false);
    expect(unsettled.youngAfter).toBeGreaterThan(YOUNG_CAP);
    expect(unsettled.optimized).toBe(true);
  });
});
