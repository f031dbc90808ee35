import { mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import type { WslHost } from '../wsl-host/host.js';
import { WslError } from '../wsl-host/errors.js';
import { makeDiskImage } from './disk-image.js';
import { unmountDataStore } from './store-mount.js';
import { DiskSwap } from './disk-swap.js';
import { makeSparse } from './sparse.js';
import { dataDiskUsage, formatBytes, fullThreshold } from './disk-usage.js';
import { DATA_DISTRO, DISK_FILE } from './layout.js';
import { copySparse, digestSparse, type CopyProgress } from './sparse-copy.js';
import { verifyImageHolds } from './verify-copy.js';
import { removeTree } from '../common/remove-tree.js';

export const GIB = 2 ** 30;

/** wsl.exe's code for "stop the distro first". */
/** wsl.exe's code for a disk in use, after whatever contexts precede it (Wsl/Service/…/WSL_E_DISTRO_NOT_STOPPED). */
const inUse = (e: unknown): e is WslError => e instanceof WslError && (e.code?.endsWith('/WSL_E_DISTRO_NOT_STOPPED') ?? false);

/** A request Berth refuses for a reason the user can act on (nothing was changed). */
export class DataDiskRefused extends Error {}

export interface DataDiskPlace {
  /** Where berth-data was imported (the manager's `distros/berth-data`). */
  dir: string;
  /** The move journal (see disk-swap.ts). */
  journal: string;
  /** Where the disk image is now, if known (the install state records it after a move). */
  recordedFile?: string | undefined;
  /** Keeps the image's place (undefined: the import directory) where recordedFile comes from. */
  recordFile(file: string | undefined): Promise<void>;
}

/** Stops and starts the engine around work that needs berth-data's disk at rest. */
export interface EngineControl {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * berth-data's disk image: made at install (on the Linux WSL host from the image tarball
 * with mkfs, on Windows by `wsl --import`, which always makes an ext4.vhdx), sized with
 * `wsl --manage --resize`, made sparse with `--set-sparse`, trimmed, converted from an
 * older directory-backed berth-data, and moved.
 */
export class DataDisk {
  private readonly swap: DiskSwap;

  constructor(
    private readonly wsl: WslHost,
    private readonly place: DataDiskPlace,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {
    this.swap = new DiskSwap(wsl, place.journal, async (to) => {
      this.place.recordedFile = to === join(place.dir, DISK_FILE) ? undefined : to;
      await place.recordFile(this.place.recordedFile);
    });
  }

  /** The image file: where a move put it, else where the import did. */
  get file(): string {
    return this.place.recordedFile ?? join(this.place.dir, DISK_FILE);
  }

  private async registered(): Promise<boolean> {
    return (await this.wsl.list()).some((d) => d.name.toLowerCase() === DATA_DISTRO);
  }

  /**
   * Settles an interrupted move or conversion (`say` tells which copy is used), then
   * imports berth-data if it is missing, or converts a directory-backed one. Returns the
   * image file. `listed`: whether the caller's own distro list of a moment ago had berth-data
   * (a list costs a wsl call); asked anew when not given, or when a recovery changed it.
   */
  async ensure(tarball: string, sizeBytes: number, say: (line: string) => void, stopEngine: () => Promise<void>, warn: (line: string) => void = say, listed?: boolean): Promise<string> {
    const recovered = await this.swap.recover(warn);
    if (recovered) warn(recovered);
    const registered = listed !== undefined && !recovered ? listed : await this.registered();
    if (!registered) {
      await this.importFresh(tarball, sizeBytes, say);
      return this.file;
    }
    const rootfs = join(this.place.dir, 'rootfs');
    if (this.platform !== 'win32' && !(await exists(this.file)) && (await exists(rootfs))) {
      // The disk must hold what the directory holds, whatever diskSizeGiB says (room for ext4's own, and to work).
      const held = await usedBytes(rootfs);
      const size = Math.max(sizeBytes, Math.ceil((held * 1.25 + GIB) / GIB) * GIB);
      say(`converting ${DATA_DISTRO} (${formatBytes(held)}) to a ${size / GIB} GiB disk image (its data is kept; the old copy is removed only after the new one was verified)`);
      await stopEngine();
      await this.atRest();
      const to = join(this.place.dir, DISK_FILE);
      await this.swap.run(
        'convert',
        rootfs,
        to,
        async (staging) => {
          await makeDiskImage(staging, size, { dir: rootfs });
          await verifyImageHolds(staging, rootfs);
        },
        say,
      );
    }
    return this.file;
  }

  private async importFresh(tarball: string, sizeBytes: number, say: (line: string) => void): Promise<void> {
    say(`importing ${DATA_DISTRO} as a ${sizeBytes / GIB} GiB sparse disk image`);
    const file = join(this.place.dir, DISK_FILE);
    // What a killed import left: a half-made disk, an unpacked tree (nothing registered uses them).
    for (const name of await readdir(this.place.dir).catch(() => [] as string[])) {
      if (name.startsWith('.unpack-') || name.endsWith('.partial')) await removeTree(join(this.place.dir, name));
    }
    if (this.platform === 'win32') {
      await this.wsl.import(DATA_DISTRO, this.place.dir, tarball, { version: 2 });
      await this.wsl.resizeDisk(DATA_DISTRO, sizeBytes);
    } else {
      const staging = `${file}.partial`;
      await makeDiskImage(staging, sizeBytes, { tarball });
      await rename(staging, file);
      try {
        await this.wsl.importInPlace(DATA_DISTRO, file);
      } catch (e) {
        await rm(file, { force: true });
        throw e;
      }
    }
    await makeSparse(this.wsl, say);
    this.place.recordedFile = undefined;
    await this.place.recordFile(undefined);
  }

  /** berth-data stopped with no mount of its disk left anywhere (the store's bind in /mnt/wsl included). */
  private async atRest(): Promise<void> {
    await unmountDataStore(this.wsl).catch(() => undefined);
    await this.wsl.terminate(DATA_DISTRO);
  }

  /** Bytes the image takes on the host's disk (its holes cost nothing), if the file is reachable. */
  async allocatedBytes(): Promise<number | undefined> {
    const st = await stat(this.file).catch(() => undefined);
    return st && st.blocks !== undefined ? st.blocks * 512 : undefined;
  }

  /** Gives freed blocks back to the host; resolves with fstrim's report. */
  async trim(): Promise<string> {
    // ext4 frees deleted blocks only at its next journal commit (every 5 s): a trim before it
    // finds nothing and marks the groups trimmed, so the space would stay. syncfs commits first.
    const r = await this.wsl.run(DATA_DISTRO, ['sh', '-c', 'sync -f / && exec fstrim -v /'], { user: 'root' });
    if (r.exitCode !== 0) throw new Error(`fstrim in ${DATA_DISTRO} failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    return r.stdout.trim();
  }

  /**
   * Sets the disk's size limit. Growing works while the engine runs (on the Linux WSL host;
   * Windows' `wsl --manage --resize` wants the distro stopped); shrinking stops the engine,
   * and is refused, with what would fit, when the data does not.
   */
  async resize(targetGiB: number, engine: EngineControl, say: (line: string) => void): Promise<void> {
    const target = targetGiB * GIB;
    const usage = await dataDiskUsage(this.wsl);
    const shrinking = target < usage.sizeBytes;
    if (shrinking) {
      // Room for ext4's own metadata (~2%) and the free space below which Berth calls the disk full.
      const needed = usage.usedBytes + fullThreshold(target) + Math.ceil(target * 0.02) + 64 * 2 ** 20;
      if (needed > target) {
        const fits = Math.ceil((usage.usedBytes * 1.03 + 320 * 2 ** 20) / GIB);
        throw new DataDiskRefused(`berth-data holds ${formatBytes(usage.usedBytes)}, which does not fit in ${targetGiB} GiB; free space first (docker system prune), or choose at least ${fits} GiB. Nothing was changed.`);
      }
    }
    if (!shrinking && this.platform !== 'win32') {
      say(`growing berth-data's disk to ${targetGiB} GiB while the engine runs`);
      try {
        return await this.wsl.resizeDisk(DATA_DISTRO, target);
      } catch (e) {
        if (!inUse(e)) throw e;
        say(`the disk cannot grow while mounted here (${e.detail.trim()}); growing it with the engine stopped instead`);
      }
    }
    say(`stopping the engine to ${shrinking ? 'shrink' : 'resize'} berth-data's disk`);
    await engine.stop();
    await this.atRest();
    try {
      say(`${shrinking ? 'shrinking' : 'growing'} berth-data's disk to ${targetGiB} GiB`);
      await this.wsl.resizeDisk(DATA_DISTRO, target);
    } finally {
      await engine.start();
    }
  }

  /** Refuses a move that cannot work, before anything stops: what it would copy, from where to where. */
  async checkMove(dir: string): Promise<{ from: string; to: string; needed: number }> {
    if (!isAbsolute(dir)) throw new DataDiskRefused(`${dir} is not an absolute path; give the full path of the directory to move berth-data into`);
    const from = this.file;
    const to = join(resolve(dir), DISK_FILE);
    if (resolve(to) === resolve(from)) throw new DataDiskRefused(`berth-data's disk is already at ${from}`);
    if (!(await exists(from))) throw new DataDiskRefused(`berth-data's disk image is not at ${from}; run \`berth start\` once (it settles an interrupted move), then try again`);
    if (await exists(to)) throw new DataDiskRefused(`${to} exists already; choose an empty directory (Berth will not overwrite a disk image)`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const needed = (await this.allocatedBytes()) ?? 0;
    const free = await statfs(dir).then(
      (s) => s.bavail * s.bsize,
      () => undefined,
    );
    if (free !== undefined && free < needed + 256 * 2 ** 20) {
      throw new DataDiskRefused(`${dir} has ${formatBytes(free)} free; berth-data's disk needs ${formatBytes(needed)} there. Free space or choose another place. Nothing was changed.`);
    }
    return { from, to, needed };
  }

  /**
   * Moves the disk image into DIR: stops the engine, copies (sparse), verifies the copy
   * against the original, switches berth-data's registration to it (which deletes the old
   * copy), and starts the engine again. Resolves with the new image's path.
   */
  async move(dir: string, engine: EngineControl, progress: (line: string) => void): Promise<string> {
    const { from, to, needed } = await this.checkMove(dir);
    progress(`stopping the engine to move berth-data's disk (${formatBytes(needed)}) to ${dir}`);
    await engine.stop();
    await this.atRest();
    const percent = (label: string): CopyProgress => {
      let last = -1;
      return (done, total) => {
        const p = Math.floor((done / total) * 10) * 10;
        if (p !== last) progress(`${label}: ${(last = p)}%`);
      };
    };
    try {
      await this.swap.run(
        'move',
        from,
        to,
        async (staging) => {
          const digest = await copySparse(from, staging, percent('copying'));
          if ((await digestSparse(staging, percent('verifying'))) !== digest) throw new Error(`the copy at ${staging} does not match the original; the original is kept`);
        },
        progress,
      );
    } finally {
      await engine.start();
    }
    progress(`berth-data's disk is now ${to}`);
    return to;
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** What a directory tree takes on disk (du), to size the disk that will hold it. */
async function usedBytes(dir: string): Promise<number> {
  const r = await execa('du', ['-s', '-B1', '-x', dir], { reject: false });
  const n = Number(r.stdout.split(/\s/)[0]);
  if (r.exitCode !== 0 || !Number.isFinite(n)) throw new Error(`cannot measure ${dir} (du: ${r.stderr.trim() || `exit ${r.exitCode}`})`);
  return n;
}
