import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { natRunning, stopNat, type NatFiles } from '../../wsl-host/linux/vm-nat.js';
import { exitReason } from '../../common/process.js';

/**
 * Which process is WSL's NAT link, by its pid file and command line: this Berth's slirp4netns,
 * or the pasta an earlier Berth left running in a VM that an upgrade found up. A pid reused by
 * anything else is never ended. Stand-ins whose command lines carry the same words.
 */
describe("WSL's NAT link, found by its pid file", () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-vm-nat-'));
  const files: NatFiles = { netns: join(dir, 'net'), pidFile: join(dir, 'nat.pid'), logFile: join(dir, 'nat.log') };
  const children: ChildProcess[] = [];
  const standIn = (...words: string[]) => {
    const child = spawn('sh', ['-c', 'sleep 30', ...words], { stdio: 'ignore' });
    children.push(child);
    writeFileSync(files.pidFile, `${child.pid}\n`);
    return exitReason(child);
  };

  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is this Berth's slirp4netns on the VM's namespace, and stopNat ends it", async () => {
    const exited = standIn('slirp4netns', files.netns);
    expect(await natRunning(files)).toBe(true);
    await stopNat(files);
    expect(await exited).toBe('killed by SIGTERM');
    expect(existsSync(files.pidFile)).toBe(false);
  });

  it("is an earlier Berth's pasta with this pid file, kept as the link and ended by stopNat", async () => {
    const exited = standIn('pasta', '--pid', files.pidFile);
    expect(await natRunning(files)).toBe(true);
    await stopNat(files);
    expect(await exited).toBe('killed by SIGTERM');
  });

  it('is not a process that reused the pid, which stopNat leaves alone', async () => {
    void standIn('slirp4netns', join(dir, 'another-world-net'));
    const pid = children[0]!.pid!;
    expect(await natRunning(files)).toBe(false);
    await stopNat(files);
    expect(() => process.kill(pid, 0)).not.toThrow();
  });
});
