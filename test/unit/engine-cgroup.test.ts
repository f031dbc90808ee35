import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engineCgroupLayout, limitFiles, missingV1Controllers } from '../../bootstrap-distro/agent/engine-cgroup.js';
import { containersCgroupParent, engineCgroupName } from '../../installer/engine.js';

const proc = mkdtempSync(join(tmpdir(), 'berth-cgroup-unit-'));
afterAll(() => rmSync(proc, { recursive: true, force: true }));

function fakeProc(name: string, mountinfo: string): string {
  const dir = join(proc, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'mountinfo'), mountinfo);
  return dir;
}

describe('the engine cgroup: where it goes and what the limits write', () => {
  it('goes at the root of every v1 hierarchy (and the hybrid v2 tree), one directory for co-mounted controllers', async () => {
    const dir = fakeProc(
      'v1',
      [
        '22 1 0:21 / /proc rw - proc proc rw',
        '30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
        '31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
        '33 25 0:29 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
      ].join('\n'),
    );
    const layout = await engineCgroupLayout('berth-engine-7', dir);
    expect(layout).toEqual({
      version: 1,
      dirs: [
        { dir: '/sys/fs/cgroup/memory/berth-engine-7', controllers: ['memory'] },
        { dir: '/sys/fs/cgroup/cpu,cpuacct/berth-engine-7', controllers: ['cpu', 'cpuacct'] },
        { dir: '/sys/fs/cgroup/unified/berth-engine-7', controllers: [] },
      ],
    });
    expect(limitFiles(1, layout.dirs[0]!, { memoryMiB: 512 })).toEqual([['/sys/fs/cgroup/memory/berth-engine-7/memory.limit_in_bytes', String(512 * 1024 * 1024)]]);
    expect(limitFiles(1, layout.dirs[1]!, { cpus: 2.5 })).toEqual([
      ['/sys/fs/cgroup/cpu,cpuacct/berth-engine-7/cpu.cfs_period_us', '100000'],
      ['/sys/fs/cgroup/cpu,cpuacct/berth-engine-7/cpu.cfs_quota_us', '250000'],
    ]);
    // A limit taken out of the settings is lifted at the next start, not kept.
    expect(limitFiles(1, layout.dirs[0]!, {})).toEqual([['/sys/fs/cgroup/memory/berth-engine-7/memory.limit_in_bytes', '-1']]);
  });

  it('uses the unified hierarchy on cgroup v2', async () => {
    const dir = fakeProc('v2', '40 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw');
    const layout = await engineCgroupLayout('berth-engine-9', dir);
    expect(layout.version).toBe(2);
    expect(limitFiles(2, layout.dirs[0]!, { memoryMiB: 1024, cpus: 1 })).toEqual([
      ['/sys/fs/cgroup/berth-engine-9/memory.max', String(1024 * 1024 * 1024)],
      ['/sys/fs/cgroup/berth-engine-9/cpu.max', '100000 100000'],
    ]);
  });

  it('says so when no cgroup hierarchy is mounted', async () => {
    await expect(engineCgroupLayout('x', fakeProc('none', '22 1 0:21 / /proc rw - proc proc rw'))).rejects.toThrow(/no cgroup hierarchy is mounted/);
  });

  it("names the cgroup per Berth home, and points dockerd's cgroup-parent into it", () => {
    const a = engineCgroupName('/var/lib/berth');
    expect(a).toMatch(/^berth-engine-[0-9a-f]{12}$/);
    expect(engineCgroupName('/home/me/.local/share/berth')).not.toBe(a);
    expect(containersCgroupParent(a)).toBe(`/${a}/containers`);
  });
});

describe('a cap the kernel cannot enforce', () => {
  it('is a warning naming the controller and the setting, not silence', () => {
    const onlyCpu = { version: 1 as const, dirs: [{ dir: '/sys/fs/cgroup/cpu,cpuacct/berth-engine-7', controllers: ['cpu', 'cpuacct'] }] };
    expect(missingV1Controllers(onlyCpu, { memoryMiB: 512, cpus: 1 })).toEqual(['the memory cgroup controller is not mounted, so memoryMiB is not enforced; the engine runs without that cap']);
    expect(missingV1Controllers(onlyCpu, { cpus: 1 })).toEqual([]);
    expect(missingV1Controllers({ version: 1, dirs: [] }, {})).toEqual([]);
  });
});
