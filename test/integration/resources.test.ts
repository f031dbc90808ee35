import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBerth, until } from '../helpers/berth-manager.js';
import { berthProcesses, commandLine, commandName } from '../helpers/processes.js';
import { requireRoot } from '../helpers/wsl-root.js';
import { engineCgroupName } from '../../installer/engine.js';

const run = requireRoot('engine resources');

/** A process's cgroup directory in one v1 hierarchy (or v2's), as the host sees it. */
function cgroupDir(pid: number, controller: 'memory' | 'cpu'): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (v1) return join('/sys/fs/cgroup', controller, v1.split(':')[2]!);
  return join('/sys/fs/cgroup', lines.find((l) => l.startsWith('0::'))!.slice(3));
}

describe.runIf(run)('engine resources: memoryMiB and cpus cap the engine and its containers, nothing else', () => {
  let t: TestBerth;
  let dockerd = 0;
  let backend = 0;
  const MIB = 1024 * 1024;

  beforeAll(async () => {
    t = new TestBerth();
    mkdirSync(t.env.BERTH_HOME!, { recursive: true });
    writeFileSync(join(t.env.BERTH_HOME!, 'settings.json'), JSON.stringify({ memoryMiB: 384, cpus: 1.5, autoPauseTimeoutSeconds: 30 }));
    await t.enableWithImages();
    backend = ((await t.status()) as unknown as { pid: number }).pid;
    dockerd = berthProcesses(backend, t.env.BERTH_WSL_ROOT!).find((p) => commandName(p) === 'dockerd') ?? 0;
    expect(dockerd).toBeGreaterThan(0);
  }, 600_000);
  afterAll(async () => t?.cleanup());

  it('puts dockerd in a cgroup of its own with the limits from the settings', () => {
    const memory = cgroupDir(dockerd, 'memory');
    expect(memory).toBe(`/sys/fs/cgroup/memory/${engineCgroupName(t.env.BERTH_HOME!)}`);
    expect(memory).not.toBe(cgroupDir(process.pid, 'memory')); // not the cgroup of this test (the "user's" processes)
    const v1 = existsSync(join(memory, 'memory.limit_in_bytes'));
    if (v1) {
      expect(Number(readFileSync(join(memory, 'memory.limit_in_bytes'), 'utf8'))).toBe(384 * MIB);
      const cpu = cgroupDir(dockerd, 'cpu');
      expect(Number(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8'))).toBe(150_000);
      expect(Number(readFileSync(join(cpu, 'cpu.cfs_period_us'), 'utf8'))).toBe(100_000);
    } else {
      expect(readFileSync(join(memory, 'memory.max'), 'utf8').trim()).toBe(String(384 * MIB));
      expect(readFileSync(join(memory, 'cpu.max'), 'utf8').trim()).toBe('150000 100000');
    }
  });

  it('nests every container under the engine cgroup, and OOM-kills one that allocates past the cap while the engine lives on', async () => {
    const engineCgroup = cgroupDir(dockerd, 'memory');
    const started = await t.docker(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '60']);
    expect(started.exitCode, started.stderr).toBe(0);
    // State.Pid is in the engine's pid namespace: find the host's pid in this world's tree.
    const id = (await t.docker(['inspect', '-f', '{{.Id}}', 'sleeper'])).stdout.trim();
    const sleeper = berthProcesses(backend, t.env.BERTH_WSL_ROOT!).find((p) => commandLine(p) === 'sleep 60 ');
    expect(sleeper).toBeDefined();
    expect(cgroupDir(sleeper!, 'memory')).toBe(`${engineCgroup}/containers/${id}`);

    // tail keeps the whole "line" of zeros in memory: 600 MiB against a 384 MiB cap.
    const hog = await t.docker(['run', '--name', 'hog', 'busybox', 'sh', '-c', 'head -c 629145600 /dev/zero | tail > /dev/null']);
    expect(hog.exitCode).toBe(137);
    expect((await t.docker(['version', '--format', '{{.Server.Version}}'])).exitCode).toBe(0);
    expect((await t.docker(['inspect', '-f', '{{.State.Running}}', 'sleeper'])).stdout.trim()).toBe('true');
    await t.docker(['rm', '-f', 'sleeper', 'hog']);
  });

  it("runs a build's steps inside the engine cgroup too", async () => {
    const context = join(t.root, 'build-context');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), 'FROM busybox\nRUN grep memory /proc/self/cgroup\n');
    const built = await t.docker(['build', '--no-cache', '-t', 'cgroup-probe', context]);
    expect(built.exitCode, built.stderr).toBe(0);
    expect(`${built.stdout}\n${built.stderr}`).toContain(`:memory:/${engineCgroupName(t.env.BERTH_HOME!)}/containers/`);
  });

  it('Resource Saver: gives back the page cache and pauses an idle engine, and the next request resumes it and is answered', async () => {
    const memory = cgroupDir(dockerd, 'memory');
    const freezer = join('/sys/fs/cgroup/freezer', engineCgroupName(t.env.BERTH_HOME!));
    const cached = () => {
      const stat = readFileSync(join(memory, 'memory.stat'), 'utf8');
      return Number(/^(?:total_cache|file) (\d+)$/m.exec(stat)?.[1] ?? NaN);
    };
    // 200 MiB of a volume's file in the page cache, charged to the engine.
    const written = await t.docker(['run', '--rm', '-v', 'cache:/v', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/v/f bs=1M count=200 2>/dev/null && cat /v/f > /dev/null']);
    expect(written.exitCode, written.stderr).toBe(0);
    const before = cached();
    expect(before).toBeGreaterThan(150 * MIB);
    // No request now: the status comes from the agent, not from dockerd.
    const paused = await until(async () => ((await t.status()) as unknown as { paused?: boolean }).paused === true, 90_000, 1000);
    expect(paused).toBe(true);
    expect((await t.berth(['status'])).stdout).toMatch(/^Berth: paused \(Resource Saver/m);
    if (existsSync(join(freezer, 'freezer.state'))) expect(readFileSync(join(freezer, 'freezer.state'), 'utf8').trim()).toBe('FROZEN');
    const after = cached();
    console.log(`[resources] engine page cache: ${(before / MIB).toFixed(0)} MiB before the pause, ${(after / MIB).toFixed(0)} MiB paused`);
    expect(after).toBeLessThan(before - 150 * MIB);

    const resumed = await t.docker(['version', '--format', '{{.Server.Version}}']);
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    expect(resumed.stdout.trim()).toMatch(/^\d+\.\d+/);
    expect(((await t.status()) as unknown as { paused?: boolean }).paused).toBeUndefined();
    if (existsSync(join(freezer, 'freezer.state'))) expect(readFileSync(join(freezer, 'freezer.state'), 'utf8').trim()).toBe('THAWED');
    expect((await t.docker(['run', '--rm', 'busybox', 'echo', 'awake'])).stdout.trim()).toBe('awake');
  }, 180_000);

  it('removes the engine cgroup when the engine stops', async () => {
    const engineCgroups = [cgroupDir(dockerd, 'memory'), cgroupDir(dockerd, 'cpu')];
    expect((await t.berth(['stop'])).exitCode).toBe(0);
    for (const dir of engineCgroups) expect(existsSync(dir)).toBe(false);
    expect(existsSync(join('/sys/fs/cgroup/freezer', `${engineCgroupName(t.env.BERTH_HOME!)}-agent`))).toBe(false);
  });
});
