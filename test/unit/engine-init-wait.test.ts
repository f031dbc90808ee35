import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_BOTH_TIMEOUT_MS, buildBoth, nativeBuilds } from '../helpers/native-builds.js';
import { liveStartTime, waitFor } from '../../common/process.js';

/**
 * `berth-engine-init wait PID`, what the manager keeps attached in the berth distro while the
 * engine runs: it returns when the process ends (not before, and without polling), at once for
 * one already gone, ends with the caller it names, and refuses what is not a process id. Both builds.
 */
describe.each(nativeBuilds('berth-engine-init'))('berth-engine-init wait ($name)', ({ binary }) => {
  beforeAll(buildBoth, BUILD_BOTH_TIMEOUT_MS);

  it('returns when the process ends, and not before', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const waiter = execa(binary, ['wait', String(sleeper.pid)], { reject: false });
    let returned = false;
    void waiter.then(() => (returned = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(returned).toBe(false);
    sleeper.kill('SIGTERM');
    const r = await waiter;
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('returns at once for a process that is gone', async () => {
    const gone = spawn('true');
    await new Promise((r) => gone.on('exit', r));
    const r = await execa(binary, ['wait', String(gone.pid)], { reject: false, timeout: 5000 });
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('ends with the shell that started it, so a killed attached shell leaves no waiter behind', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const shell = spawn('sh', ['-c', `"$0" wait "$1" $$ & echo $!; wait`, binary, String(sleeper.pid)], { stdio: ['ignore', 'pipe', 'ignore'] });
    const waiter = Number(await new Promise<string>((r) => shell.stdout.once('data', (d: Buffer) => r(d.toString()))));
    expect(await liveStartTime(waiter)).toBeDefined();
    shell.kill('SIGKILL');
    expect(await waitFor(async () => (await liveStartTime(waiter)) === undefined, 5000)).toBe(true);
    sleeper.kill('SIGTERM');
  });

  it('refuses what is not a process id, naming it', async () => {
    for (const bad of ['abc', '0', '-5', '99999999999', '1 x']) {
      const r = await execa(binary, ['wait', bad], { reject: false });
      expect(r.exitCode, bad).toBe(1);
      expect(r.stderr).toContain(`wait: not a process id: ${bad}`);
    }
  });
});
