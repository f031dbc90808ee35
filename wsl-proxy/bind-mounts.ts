import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as z from '../common/zod.js';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../common/atomic-file.js';
import { isMountPoint, parseMountinfo } from '../common/mountinfo.js';
import { SHARED_AREA, sharedPath } from '../common/shared-area.js';
import { SerialQueue } from '../common/serial-queue.js';

const run = promisify(execFile);
/** The daemon's view of the shared area; a distro sees it at <automount root>wsl. */
export const DAEMON_SHARED = SHARED_AREA;
export const BIND_ROOT = sharedPath('bindMounts');

/** A user path bind-mounted into the shared area (target: the daemon's path for it), and the containers that use it. */
export interface BindRecord {
  source: string;
  target: string;
  containers: string[];
}

const bindTableSchema = z.array(z.object({ source: z.string().startsWith('/'), target: z.string().startsWith(`${BIND_ROOT}/`), containers: z.array(z.string()) }).strict());

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The proxy's bind mounts in its distro's mount namespace: each user path at
 * BIND_ROOT/<distro>/<sha256 of the path>. The table is kept on the distro's own disk,
 * written atomically, so a restarted proxy (or a restarted WSL) puts the mounts back.
 */
export class BindMounts {
  private records = new Map<string, BindRecord>();
  private loaded = false;
  /**
   * Per target: creates that passed through ensure() and are not yet recorded (attach) or
   * given up (releaseUnused). The destroy event of the last container on a mount can arrive
   * after the next create reused that mount and before it was recorded: dropping it then
   * would pull the mount from under the new container (found by npm run soak).
   */
  private readonly inFlight = new Map<string, number>();
  /** Changes run one at a time: a drop's unmount and rmdir must not interleave with an ensure's mkdir and mount. */
  private readonly queue = new SerialQueue();

  private readonly busybox: string;

  /** shared: where this distro sees the shared area (/mnt/wsl, or /wsl with root=/). */
  constructor(
    private readonly distro: string,
    private readonly stateFile: string,
    private readonly shared = DAEMON_SHARED,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.busybox = `${shared}/berth/tools/bin/busybox`;
  }

  /** The daemon's path for a source. */
  targetFor(source: string): string {
    return join(BIND_ROOT, this.distro, createHash('sha256').update(source).digest('hex'));
  }

  /** The same place as this distro sees it. */
  private local(target: string): string {
    return this.shared + target.slice(DAEMON_SHARED.length);
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    await this.dropStaleTemporaries();
    let text: string;
    try {
      text = await readFile(this.stateFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // no table yet
      throw new Error(`cannot read the bind-mount table ${this.stateFile}: ${(e as Error).message}`, { cause: e });
    }
    const parsed = bindTableSchema.safeParse(parseJson(text));
    if (parsed.success) {
      for (const r of parsed.data) this.records.set(r.source, r);
      return;
    }
    // Never overwritten blind: the next save would orphan every mount it listed. Kept aside,
    // and the table is rebuilt from what is really mounted here.
    const aside = `${this.stateFile}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await rename(this.stateFile, aside);
    for (const r of await this.mountedNow()) this.records.set(r.source, r);
    await this.save();
    this.log(`the bind-mount table ${this.stateFile} was corrupt (kept as ${aside}); rebuilt from the ${this.records.size} bind mount(s) mounted now`);
  }

  /** Half-written copies of the table left by a proxy killed while it saved (writeFileAtomic's temporaries). */
  private async dropStaleTemporaries(): Promise<void> {
    const name = basename(this.stateFile);
    for (const f of await readdir(dirname(this.stateFile)).catch(() => [] as string[])) {
      if (f.startsWith(`${name}.`) && f.endsWith('.tmp')) await rm(join(dirname(this.stateFile), f), { force: true });
    }
  }

  /** The bind mounts of this distro in the shared area, from the mount table (their containers are not known). */
  private async mountedNow(): Promise<BindRecord[]> {
    const dir = this.local(join(BIND_ROOT, this.distro));
    const entries = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
    // A bind's `root` is its path in its filesystem; where the distro's own / is itself a
    // directory of a larger filesystem (the Linux WSL host), that directory comes first.
    const rootOfSlash = entries.filter((m) => m.mountPoint === '/').at(-1)?.root ?? '/';
    const inDistro = (root: string) => (rootOfSlash !== '/' && root.startsWith(`${rootOfSlash}/`) ? root.slice(rootOfSlash.length) : root);
    return (
      entries
        .filter((m) => dirname(m.mountPoint) === dir)
        .map((m) => ({ source: inDistro(m.root), target: join(BIND_ROOT, this.distro, basename(m.mountPoint)), containers: [] }))
        // Only what this table would have listed: the target is the hash of the source.
        .filter((r) => r.target === this.targetFor(r.source))
    );
  }

  private async save(): Promise<void> {
    await mkdir(dirname(this.stateFile), { recursive: true });
    await writeFileAtomic(this.stateFile, JSON.stringify([...this.records.values()], null, 2));
  }

  /** Mounts source (a real path in this distro) into the shared area; returns the shared path. */
  ensure(source: string): Promise<string> {
    return this.queue.run(() => this.ensureNow(source));
  }

  private async ensureNow(source: string): Promise<string> {
    await this.load();
    const target = this.targetFor(source);
    const local = this.local(target);
    if (!(await isMountPoint(local))) {
      const isDir = (await stat(source)).isDirectory();
      await mkdir(isDir ? local : dirname(local), { recursive: true });
      if (!isDir) await writeFile(local, '', { flag: 'a' });
      await run(this.busybox, ['mount', '--bind', source, local]);
    }
    if (!this.records.has(source)) {
      this.records.set(source, { source, target, containers: [] });
      await this.save();
    }
    this.inFlight.set(target, (this.inFlight.get(target) ?? 0) + 1);
    return target;
  }

  /** One create on `target` is settled (recorded, or given up). */
  private settled(target: string): void {
    const n = (this.inFlight.get(target) ?? 0) - 1;
    if (n > 0) this.inFlight.set(target, n);
    else this.inFlight.delete(target);
  }

  /** Records that a container uses the mount at this shared path. */
  attach(target: string, container: string): Promise<void> {
    return this.queue.run(() => this.attachNow(target, container));
  }

  private async attachNow(target: string, container: string): Promise<void> {
    await this.load();
    this.settled(target);
    const r = [...this.records.values()].find((x) => x.target === target);
    if (r && !r.containers.includes(container)) {
      r.containers.push(container);
      await this.save();
    }
  }

  /** A create failed: drop the mounts it made that no container uses. */
  releaseUnused(targets: string[]): Promise<void> {
    return this.queue.run(() => this.releaseUnusedNow(targets));
  }

  private async releaseUnusedNow(targets: string[]): Promise<void> {
    await this.load();
    let changed = false;
    for (const t of targets) this.settled(t);
    for (const r of [...this.records.values()]) {
      if (targets.includes(r.target) && r.containers.length === 0 && !this.inFlight.has(r.target)) {
        await this.drop(r);
        changed = true;
      }
    }
    if (changed) await this.save();
  }

  /** A container was removed: release the mounts no container uses any more. */
  release(container: string): Promise<void> {
    return this.queue.run(() => this.releaseNow(container));
  }

  private async releaseNow(container: string): Promise<void> {
    await this.load();
    let changed = false;
    for (const r of [...this.records.values()]) {
      if (!r.containers.includes(container)) continue;
      r.containers = r.containers.filter((c) => c !== container);
      changed = true;
      // A create that is about to use it keeps it (its attach records the new container).
      if (r.containers.length === 0 && !this.inFlight.has(r.target)) await this.drop(r);
    }
    if (changed) await this.save();
  }

  private async drop(r: BindRecord): Promise<void> {
    const local = this.local(r.target);
    while (await isMountPoint(local)) await run(this.busybox, ['umount', '-l', local]);
    // The empty mount point only: never a recursive delete where a bind mount was.
    await rmdir(local).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw new Error(`cannot remove the bind mount point ${local}: ${e.message}`, { cause: e });
    });
    this.records.delete(r.source);
  }

  /** After a restart: mount again what the table lists (a path that is gone stays listed, unmounted). */
  restore(log: (line: string) => void): Promise<void> {
    return this.queue.run(async () => {
      await this.load();
      for (const r of this.records.values()) {
        // Mounted again, not a create: nothing is in flight for it.
        const target = await this.ensureNow(r.source).catch((e: Error) => void log(`cannot restore the bind mount of ${r.source}: ${e.message}`));
        if (target) this.settled(target);
      }
    });
  }

  /** The user's path for a shared path, to show in responses. */
  clientPath(daemonPath: string): string | undefined {
    for (const r of this.records.values()) {
      if (daemonPath === r.target) return r.source;
      if (daemonPath.startsWith(`${r.target}/`)) return r.source + daemonPath.slice(r.target.length);
    }
    return undefined;
  }

  /** Drops every mount (integration turned off). */
  dropAll(): Promise<void> {
    return this.queue.run(async () => {
      await this.load();
      for (const r of [...this.records.values()]) await this.drop(r);
      await this.save();
    });
  }
}

/**
 * After a create the daemon accepted: each of its bind mounts of the distro's folders is
 * recorded as the container's. A record that cannot be written is a log line (the proxy
 * keeps serving; the mount stays until the next restore sorts it out), never a rejection
 * that nothing awaits.
 */
export function recordCreated(mounts: Pick<BindMounts, 'attach'>, id: string, mappings: Array<{ daemon: string }>, log: (line: string) => void): void {
  for (const m of mappings) {
    if (m.daemon.startsWith(`${BIND_ROOT}/`)) mounts.attach(m.daemon, id).catch((e: Error) => log(`cannot record the bind mount of ${id} at ${m.daemon}: ${e.message}`));
  }
}
