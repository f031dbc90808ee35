import { mkdir, readdir, readFile, readlink, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMountinfo } from '../../common/mountinfo.js';
import { paths } from './paths.js';
import { sleep } from '../../common/process.js';

/**
 * The engine's cgroup: dockerd, containerd and every container (the manager sets dockerd's
 * `cgroup-parent` to `/<name>/containers`, which runc and BuildKit both take from the
 * hierarchy's root). `memoryMiB` and `cpus` cap them all together and nothing else: the
 * user's distros share the VM but not this cgroup. Docker Desktop on WSL can only cap the
 * whole VM (.wslconfig).
 *
 * It sits at the root of each hierarchy, as dockerd's own /docker does, under a name the
 * manager gives per Berth home (so parallel Berths never share one), and goes at stop.
 */
export interface EngineLimits {
  memoryMiB?: number;
  cpus?: number;
}

const CFS_PERIOD_US = 100_000;
/** A cgroup name the agent accepts (it becomes a directory name in every hierarchy). */
export const CGROUP_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export interface CgroupLayout {
  version: 1 | 2;
  /** The engine's cgroup in each hierarchy, with that hierarchy's controllers. */
  dirs: Array<{ dir: string; controllers: string[] }>;
}

/** Where the engine's cgroup goes, from the cgroup mounts in /proc/self/mountinfo. */
export async function engineCgroupLayout(name: string, proc = '/proc/self'): Promise<CgroupLayout> {
  const mounts = parseMountinfo(await readFile(`${proc}/mountinfo`, 'utf8')).filter((m) => m.mountPoint.startsWith('/sys/fs/cgroup'));
  const v2 = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === '/sys/fs/cgroup');
  if (v2) return { version: 2, dirs: [{ dir: join(v2.mountPoint, name), controllers: ['memory', 'cpu'] }] };
  // v1: every hierarchy (and the hybrid layout's controller-less v2 tree), so nothing of the
  // engine or its containers is left at a hierarchy's root. A mount point is named after its
  // controllers (cpu,cpuacct; systemd for name=systemd).
  const dirs = mounts.filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2').map((m) => ({ dir: join(m.mountPoint, name), controllers: m.fsType === 'cgroup2' ? [] : m.mountPoint.split('/').pop()!.split(',') }));
  if (dirs.length === 0) throw new Error('no cgroup hierarchy is mounted at /sys/fs/cgroup; the engine cannot be given its own cgroup');
  return { version: 1, dirs };
}

/** The name when the manager gives none (an agent started by hand): this distro instance's. */
export async function defaultEngineCgroupName(): Promise<string> {
  const ns = /\[(\d+)\]/.exec(await readlink('/proc/self/ns/pid'))?.[1] ?? String(process.pid);
  return `berth-engine-${ns}`;
}

/** The files and values the limits become in one hierarchy (unset limits are lifted). */
export function limitFiles(version: 1 | 2, at: { dir: string; controllers: string[] }, limits: EngineLimits): Array<[string, string]> {
  const bytes = limits.memoryMiB === undefined ? undefined : String(limits.memoryMiB * 1024 * 1024);
  const quota = limits.cpus === undefined ? undefined : String(Math.round(limits.cpus * CFS_PERIOD_US));
  const files: Array<[string, string]> = [];
  if (version === 2) {
    files.push([join(at.dir, 'memory.max'), bytes ?? 'max'], [join(at.dir, 'cpu.max'), `${quota ?? 'max'} ${CFS_PERIOD_US}`]);
    return files;
  }
  if (at.controllers.includes('memory')) files.push([join(at.dir, 'memory.limit_in_bytes'), bytes ?? '-1']);
  if (at.controllers.includes('cpu')) files.push([join(at.dir, 'cpu.cfs_period_us'), String(CFS_PERIOD_US)], [join(at.dir, 'cpu.cfs_quota_us'), quota ?? '-1']);
  return files;
}

/**
 * Makes (or re-uses) the engine's cgroup and sets the limits (unset ones lifted). The
 * engine joins it as it starts (cgroup.procs in each directory); the agent stays out, so
 * it can remove the cgroup once the engine is gone.
 */
export async function prepareEngineCgroup(name: string, limits: EngineLimits): Promise<CgroupLayout & { warnings: string[] }> {
  const layout = await engineCgroupLayout(name);
  const warnings = layout.version === 2 ? await enableV2Controllers(join(layout.dirs[0]!.dir, '..'), limits) : missingV1Controllers(layout, limits);
  // Each hierarchy on its own, all at once: a start waits on this.
  await Promise.all(
    layout.dirs.map(async (at) => {
      await mkdir(at.dir, { recursive: true, mode: 0o755 });
      // A new cpuset cgroup has no CPUs or memory nodes: nothing could join it until it has its parent's.
      if (layout.version === 1 && at.controllers.includes('cpuset')) await inheritCpuset(at.dir);
      // Left frozen by a supervisor killed while Resource Saver had paused the engine: a new engine would freeze as it joins.
      if (layout.version === 1 && at.controllers.includes('freezer')) await writeFile(join(at.dir, 'freezer.state'), 'THAWED').catch(() => undefined);
      if (layout.version === 2) await writeFile(join(at.dir, 'cgroup.freeze'), '0').catch(() => undefined);
      for (const [file, value] of limitFiles(layout.version, at, limits)) {
        await writeFile(file, value).catch((e: Error) => {
          throw new Error(`cannot set ${file} to ${value} (${e.message}); check memoryMiB and cpus in Berth's settings`, { cause: e });
        });
      }
    }),
  );
  return { ...layout, warnings };
}

/** The warning for a cap the kernel cannot enforce here, naming the setting it drops. */
const uncapped = (controller: string, why: string) => `the ${controller} cgroup controller ${why}, so ${controller === 'memory' ? 'memoryMiB' : 'cpus'} is not enforced; the engine runs without that cap`;

export function missingV1Controllers(layout: CgroupLayout, limits: EngineLimits): string[] {
  const mounted = new Set(layout.dirs.flatMap((d) => d.controllers));
  const wanted = [...(limits.memoryMiB !== undefined ? ['memory'] : []), ...(limits.cpus !== undefined ? ['cpu'] : [])];
  return wanted.filter((c) => !mounted.has(c)).map((c) => uncapped(c, 'is not mounted'));
}

async function inheritCpuset(dir: string): Promise<void> {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if ((await readFile(join(dir, file), 'utf8').catch(() => '')).trim()) continue;
    await writeFile(join(dir, file), await readFile(join(dir, '..', file), 'utf8'));
  }
}

/**
 * v2 only hands memory and cpu to children that the parent's subtree_control enables. A cap
 * that is set but whose controller is missing or cannot be enabled is a warning, not silence.
 */
async function enableV2Controllers(parent: string, limits: EngineLimits): Promise<string[]> {
  const available = (await readFile(join(parent, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/);
  const warnings: string[] = [];
  for (const c of ['memory', 'cpu', 'pids']) {
    const needed = (c === 'memory' && limits.memoryMiB !== undefined) || (c === 'cpu' && limits.cpus !== undefined);
    if (!available.includes(c)) {
      if (needed) warnings.push(uncapped(c, `is not available in ${parent}`));
      continue;
    }
    await writeFile(join(parent, 'cgroup.subtree_control'), `+${c}`).catch((e: Error) => {
      if (needed) warnings.push(uncapped(c, `could not be enabled in ${parent} (${e.message})`));
    });
  }
  return warnings;
}

/** Removes a cgroup and its children, deepest first; a cgroup with processes stays (EBUSY). */
export async function removeTree(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return true;
  for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
  return rmdir(dir).then(
    () => true,
    () => false,
  );
}

/**
 * After the engine stopped: its cgroup and the containers' leftovers go. The kernel ends
 * the engine's last processes (its pid namespace's) a moment after its init: wait up to 2 s.
 */
export async function removeEngineCgroup(name: string): Promise<boolean> {
  const layout = await engineCgroupLayout(name);
  for (let i = 0; i < 40; i++) {
    let all = true;
    // <name>-agent: where the supervisor waited while Resource Saver had the engine frozen.
    for (const { dir } of layout.dirs) all = (await removeTree(dir)) && (await removeTree(`${dir}-agent`)) && all;
    if (all) return true;
    await sleep(50);
  }
  return false;
}

/** Where `start` notes the cgroup it made, for `stop` to remove. */
export function engineCgroupFile(): string {
  return join(paths.runDir, 'engine-cgroup');
}

/** The cgroup the running engine was started in (the default name if none was noted). */
export async function startedCgroup(): Promise<string> {
  const noted = (await readFile(engineCgroupFile(), 'utf8').catch(() => '')).trim();
  return CGROUP_NAME.test(noted) ? noted : defaultEngineCgroupName();
}
