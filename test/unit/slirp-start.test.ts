import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlirp } from '../../common/slirp.js';
import { liveStartTime, type RunningHelper } from '../../common/process.js';
import { requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('slirp4netns attached to a network namespace of its own');

/**
 * startSlirp, as WSL's NAT and the engine link use it: resolved means configured (no
 * polling after it), its pid and log files are root-only, and one that cannot attach is
 * reported with its log and leaves nothing running.
 */
describe.runIf(run)('startSlirp', () => {
  const name = `berth-test-slirp-${process.pid}`;
  const netns = `/run/netns/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'berth-slirp-'));
  let link: RunningHelper | undefined;

  beforeAll(async () => {
    await execa('ip', ['netns', 'add', name]);
  });

  afterAll(async () => {
    link?.child.kill('SIGTERM');
    await link?.exited;
    await execa('ip', ['netns', 'delete', name], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves with the link configured: its address and default route are there, its files root-only', async () => {
    const pidFile = join(dir, 'nat.pid');
    const logFile = join(dir, 'nat.log');
    link = await startSlirp({ network: '172.29.240.0', prefixLength: 20, netns, dns: true, pidFile, logFile });
    const addr = await execa('ip', ['-n', name, '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    expect(addr.stdout).toContain('inet 172.29.240.100/20');
    expect((await execa('ip', ['-n', name, 'route', 'show', 'default'])).stdout).toContain('default via 172.29.240.2 dev eth0');
    expect(Number(readFileSync(pidFile, 'utf8'))).toBe(link.child.pid);
    expect(statSync(pidFile).mode & 0o777).toBe(0o600);
    expect(statSync(logFile).mode & 0o777).toBe(0o600);
  });

  it('reports a link that cannot attach, naming its log, and leaves no process behind', async () => {
    const pidFile = join(dir, 'bad.pid');
    const logFile = join(dir, 'bad.log');
    const failed = startSlirp({ network: '172.29.240.0', prefixLength: 20, netns: join(dir, 'not-a-namespace'), dns: false, pidFile, logFile });
    await expect(failed).rejects.toThrow(new RegExp(`slirp4netns did not come up \\(exit \\d+\\); see ${logFile}`));
    expect(await liveStartTime(Number(readFileSync(pidFile, 'utf8')))).toBeUndefined();
    expect(readFileSync(logFile, 'utf8')).not.toBe('');
  });
});
