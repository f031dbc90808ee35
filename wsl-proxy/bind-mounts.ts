import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../common/atomic-file.js';
import { isMountPoint } from '../common/mountinfo.js';
import { SHARED_AREA, sharedPath } from '../common/shared-area.js';

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

/**
 * The proxy's bind mounts in its distro's mount namespace: each user path at
 * BIND_ROOT/<distro>/<sha256 of the path>. The table is kept on the distro's own disk,
 * written atomically, so a restarted proxy (or a restarted WSL) puts the mounts back.
 */
export class BindMounts {
  private records = new Map<string, BindRecord>();
  private loaded = false;

  private readonly busybox: string;

  /** shared: where this distro sees the shared area (/mnt/wsl, or /wsl with root=/). */
  constructor(
    private readonly distro: string,
    private readonly stateFile: string,
    private readonly shared = DAEMON_SHARED,
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
    try {
      for (const r of JSON.parse(await readFile(this.stateFile, 'utf8')) as BindRecord[]) this.records.set(r.source, r);
    } catch {
      // no table yet
    }
  }

  private async save(): Promise<void> {
    await mkdir(dirname(this.stateFile), { recursive: true });
    await writeFileAtomic(this.stateFile, JSON.stringify([...this.records.values()], null, 2));
  }

  /** Mounts source (a real path in this distro) into the shared area; returns the shared path. */
  async ensure(source: string): Promise<string> {
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
    return target;
  }

  /** Records that a container uses the mount at this shared path. */
  async attach(target: string, container: string): Promise<void> {
    await this.load();
    const r = [...this.records.values()].find((x) => x.target === target);
    if (r && !r.containers.includes(container)) {
      r.containers.push(container);
      await this.save();
    }
  }

  /** A create failed: drop the mounts it made that no container uses. */
  async releaseUnused(targets: string[]): Promise<void> {
    await this.load();
    let changed = false;
    for (const r of [...this.records.values()]) {
      if (targets.includes(r.target) && r.containers.length === 0) {
        await this.drop(r);
        changed = true;
      }
    }
    if (changed) await this.save();
  }

  /** A container was removed: release the mounts no container uses any more. */
  async release(container: string): Promise<void> {
    await this.load();
    let changed = false;
    for (const r of [...this.records.values()]) {
      if (!r.containers.includes(container)) continue;
      r.containers = r.containers.filter((c) => c !== container);
      changed = true;
      if (r.containers.length === 0) await this.drop(r);
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
  async restore(log: (line: string) => void): Promise<void> {
    await this.load();
    for (const r of this.records.values()) {
      await this.ensure(r.source).catch((e: Error) => log(`cannot restore the bind mount of ${r.source}: ${e.message}`));
    }
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
  async dropAll(): Promise<void> {
    await this.load();
    for (const r of [...this.records.values()]) await this.drop(r);
    await this.save();
  }
}
