import { mkdir, readdir, readFile, readlink, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMountinfo } from '../../common/mountinfo.js';

/**
 * The engine's cgroup: dockerd, containerd and every container (dockerd's `cgroup-parent`
 * is relative, `berth-containers`, so runc nests containers under the cgroup it runs in).
 * `memoryMiB` and `cpus` cap them all together and nothing else: the user's distros share
 * the VM but not this cgroup. Docker Desktop on WSL can only cap the whole VM (.wslconfig).
 *
 * It is made below the agent's own cgroup in each hierarchy (so a Berth under test stays
 * inside its test's cgroup), named after the distro instance, and removed at stop.
 */
export interface EngineLimits {
  memoryMiB?: number;
  cpus?: number;
}

/**
 * On cgroup v1 the engine's cgroup is made in every mounted hierarchy, so runc's relative
 * `berth-containers` lands under it everywhere and goes away with it.
 */
const CFS_PERIOD_US = 100_000;
const PREFIX = 'berth-engine-';

export interface CgroupLayout {
  version: 1 | 2;
  /** The engine's cgroup in each hierarchy it is made in, with that hierarchy's controllers. */
  dirs: Array<{ dir: string; controllers: string[] }>;
}

/** Where this process's cgroups are, from /proc/self/mountinfo and /proc/self/cgroup. */
export async function engineCgroupLayout(name: string, proc = '/proc/self'): Promise<CgroupLayout> {
  const mounts = parseMountinfo(await readFile(`${proc}/mountinfo`, 'utf8'));
  const own = parseProcCgroup(await readFile(`${proc}/cgroup`, 'utf8'));
  const v2 = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === '/sys/fs/cgroup');
  if (v2) return { version: 2, dirs: [{ dir: join(v2.mountPoint, relativeTo(v2.root, own.get('') ?? '/'), name), controllers: ['memory', 'cpu'] }] };
  const dirs: CgroupLayout['dirs'] = [];
  for (const [controller, path] of own) {
    if (controller === '') {
      // Hybrid: the controller-less v2 tree (often /sys/fs/cgroup/unified), where runc makes cgroups too.
      const unified = mounts.find((m) => m.fsType === 'cgroup2');
      if (unified) dirs.push({ dir: join(unified.mountPoint, relativeTo(unified.root, path), name), controllers: [] });
      continue;
    }
    // A hierarchy's mount point is named after its controllers (cpu,cpuacct; systemd for name=systemd).
    const leaf = controller.replace(/^name=/, '');
    const mount = mounts.find((m) => m.fsType === 'cgroup' && m.mountPoint.split('/').pop()!.split(',').includes(leaf));
    if (!mount) continue;
    const dir = join(mount.mountPoint, relativeTo(mount.root, path), name);
    const known = dirs.find((d) => d.dir === dir);
    if (known) known.controllers.push(controller);
    else dirs.push({ dir, controllers: [controller] });
  }
  if (dirs.length === 0) throw new Error('no cgroup hierarchy is mounted at /sys/fs/cgroup; the engine cannot be given its own cgroup');
  return { version: 1, dirs };
}

/** /proc/PID/cgroup: "ID:controllers:path" lines → controller → path ("" for v2's unified line). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1] === '' ? [''] : m[1]!.split(',')) out.set(c, m[2]!);
  }
  return out;
}

/** A cgroup path as seen below a mount whose root is `root` (a bind of a sub-tree). */
function relativeTo(root: string, path: string): string {
  if (root === '/' || !path.startsWith(root)) return path;
  return path.slice(root.length) || '/';
}

/** The name for this distro instance (its pid namespace), so parallel engines never share one. */
export async function engineCgroupName(): Promise<string> {
  const ns = /\[(\d+)\]/.exec(await readlink('/proc/self/ns/pid'))?.[1] ?? String(process.pid);
  return `${PREFIX}${ns}`;
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
export async function prepareEngineCgroup(limits: EngineLimits, name?: string): Promise<CgroupLayout> {
  const layout = await engineCgroupLayout(name ?? (await engineCgroupName()));
  await removeStaleSiblings(layout);
  if (layout.version === 2) await enableV2Controllers(join(layout.dirs[0]!.dir, '..'));
  for (const at of layout.dirs) {
    await mkdir(at.dir, { recursive: true });
    // A new cpuset cgroup has no CPUs or memory nodes: nothing could join it until it has its parent's.
    if (layout.version === 1 && at.controllers.includes('cpuset')) await inheritCpuset(at.dir);
    for (const [file, value] of limitFiles(layout.version, at, limits)) {
      await writeFile(file, value).catch((e: Error) => {
        throw new Error(`cannot set ${file} to ${value} (${e.message}); check memoryMiB and cpus in Berth's settings`, { cause: e });
      });
    }
  }
  return layout;
}

async function inheritCpuset(dir: string): Promise<void> {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if ((await readFile(join(dir, file), 'utf8').catch(() => '')).trim()) continue;
    await writeFile(join(dir, file), await readFile(join(dir, '..', file), 'utf8'));
  }
}

/** v2 only hands memory and cpu to children that the parent's subtree_control enables. */
async function enableV2Controllers(parent: string): Promise<void> {
  const available = (await readFile(join(parent, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/);
  for (const c of ['memory', 'cpu', 'pids']) {
    if (available.includes(c)) await writeFile(join(parent, 'cgroup.subtree_control'), `+${c}`).catch(() => undefined);
  }
}

/**
 * Engine cgroups a killed engine left behind. A running engine's own cgroup always holds
 * dockerd and containerd, so one whose cgroup.procs is empty is gone, and its tree can go.
 */
async function removeStaleSiblings(layout: CgroupLayout): Promise<void> {
  for (const { dir } of layout.dirs) {
    const parent = join(dir, '..');
    for (const n of await readdir(parent).catch(() => [] as string[])) {
      const sibling = join(parent, n);
      if (!n.startsWith(PREFIX) || sibling === dir) continue;
      if ((await readFile(join(sibling, 'cgroup.procs'), 'utf8').catch(() => 'unknown')).trim() === '') await removeTree(sibling);
    }
  }
}

/** Removes a cgroup and its children, deepest first; a cgroup with processes stays (EBUSY). */
export async function removeTree(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return true;
  for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
  return rmdir(dir).then(() => true, () => false);
}

/**
 * After the engine stopped: its cgroup and the containers' leftovers go. The kernel ends
 * the engine's last processes (its pid namespace's) a moment after its init: wait up to 2 s.
 */
export async function removeEngineCgroup(name?: string): Promise<boolean> {
  const layout = await engineCgroupLayout(name ?? (await engineCgroupName()));
  for (let i = 0; i < 40; i++) {
    let all = true;
    for (const { dir } of layout.dirs) all = (await removeTree(dir)) && all;
    if (all) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
