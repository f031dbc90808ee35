import { mkdtemp, rmdir, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isExt4Image } from './ext4-image.js';
import { dirname, resolve } from 'node:path';
import { errors, type WslErrorText } from '../messages.js';
import type { DiskChange } from './args.js';
import { WslFailure } from './importer.js';
import { findByName, newRecord, type DistroRecord, type Registry } from './registry.js';
import { mustRun, runCommand } from '../../common/run-command.js';
import type { DistroRuntime } from './runtime.js';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

const diskErrors = {
  notVhd: (): WslErrorText => ({ text: 'The distribution is not stored in a virtual hard disk.', code: 'Wsl/Service/WSL_E_VM_MODE_INVALID_STATE' }),
  // wsl.exe's WSL_E_DISTRO_NOT_STOPPED (MessageVhdInUse): a disk in use is not resized or made sparse.
  inUse: (): WslErrorText => ({ text: 'The operation could not be completed because the VHD is currently in use. To force WSL to stop use: wsl.exe --shutdown', code: 'Wsl/Service/WSL_E_DISTRO_NOT_STOPPED' }),
  resizeFailed: (why: string): WslErrorText => ({ text: `The disk could not be resized: ${why}`, code: 'Wsl/Service/E_FAIL' }),
};

/**
 * `--import-in-place` and `--manage`: the disk-image side of WSL's registry. An image is a
 * raw ext4 file here (a VHDX on Windows); the loop device in the distro's namespace is the
 * virtual disk controller.
 */
export class DiskManager {
  constructor(
    private readonly registry: Registry,
    private readonly runtime: DistroRuntime,
  ) {}

  /** Registers an existing image where it lies, as `wsl --import-in-place` does. */
  async importInPlace(name: string, asked: string): Promise<void> {
    // As wsl.exe's GetFullPath: a relative path is the caller's directory's.
    const file = resolve(asked);
    if (!NAME.test(name)) throw new WslFailure(errors.invalidArgument(name));
    if (!(await stat(file).catch(() => undefined))?.isFile()) throw new WslFailure(errors.fileNotFound());
    if (!(await isExt4Image(file))) throw new WslFailure(errors.importFailed('the file is not an ext4 disk image'));
    await this.registry.update((reg) => {
      if (findByName(reg, name)) throw new WslFailure(errors.exists());
      if (reg.distros.some((d) => this.runtime.rootfsPath(d) === file)) throw new WslFailure(errors.busy(`${file} is already registered`));
      const record: DistroRecord = { ...newRecord(name, dirname(file), 2, true), vhdPath: file, state: 'Installed' };
      reg.distros.push(record);
      if (!reg.defaultId) reg.defaultId = record.id;
    });
  }

  async manage(name: string, change: DiskChange): Promise<void> {
    const d = await this.registry.find(name);
    if (!d || d.state !== 'Installed') throw new WslFailure(errors.notFound());
    if (!d.vhd) throw new WslFailure(diskErrors.notVhd());
    // Whether the disk is attached, once checked, holds: no start begins meanwhile (an
    // offline e2fsck or resize2fs beside a fresh mount would corrupt the file system).
    return this.runtime.withoutStarts(d, () => (change.kind === 'set-sparse' ? this.setSparse(d, change.sparse) : this.resize(d, change.bytes)));
  }

  private async setSparse(d: DistroRecord, sparse: boolean): Promise<void> {
    const attached = await this.isAttached(d, await loopDevicesOf(this.runtime.rootfsPath(d)));
    await this.registry.update((reg) => {
      const r = reg.distros.find((x) => x.id === d.id);
      if (r) r.sparse = sparse;
    });
    // Blocks that are zero already cost nothing from now on (an attached disk's trims do the
    // rest: punching a block the kernel may be writing would lose that write).
    if (sparse && !attached) await mustRun('fallocate', ['--dig-holes', this.runtime.rootfsPath(d)]);
  }

  /**
   * Grows a disk in place, mounted or not (the loop device is told the new capacity, then
   * ext4 grows online); shrinks only a stopped one, and only when the data fits (resize2fs
   * refuses otherwise, and nothing is changed).
   */
  private async resize(d: DistroRecord, bytes: number): Promise<void> {
    const file = this.runtime.rootfsPath(d);
    const current = (await stat(file)).size;
    if (bytes % 4096 !== 0) throw new WslFailure(diskErrors.resizeFailed(`${bytes} bytes is not a multiple of 4 KiB`));
    const loops = await loopDevicesOf(file);
    // Equal sizes still grow the file system to fill its file (an earlier grow may have stopped half-way).
    if (bytes >= current) {
      await truncate(file, bytes);
      try {
        if (loops.length > 0) {
          for (const loop of loops) await mustRun('losetup', ['-c', loop]);
          await growMounted(loops[0]!);
        } else await this.resizeFs(file, undefined, true);
      } catch (e) {
        await truncate(file, current);
        for (const loop of loops) await runCommand('losetup', ['-c', loop]);
        throw e;
      }
      return;
    }
    if (await this.isAttached(d, loops)) throw new WslFailure(diskErrors.inUse());
    await this.resizeFs(file, `${bytes / 1024}K`, true);
    await truncate(file, bytes);
  }

  /** In use: a loop device holds the image, or the distro runs. */
  private async isAttached(d: DistroRecord, loops: string[]): Promise<boolean> {
    return loops.length > 0 || (await this.runtime.running(d)) !== undefined;
  }

  private async resizeFs(target: string, size: string | undefined, offline = false): Promise<void> {
    // resize2fs wants a freshly checked file system when it is not mounted.
    if (offline) {
      const fsck = await runCommand('e2fsck', ['-f', '-p', target]);
      if (fsck.exitCode > 1) throw new WslFailure(diskErrors.resizeFailed(`e2fsck found errors it could not fix: ${fsck.stderr || fsck.stdout}`));
    }
    const r = await runCommand('resize2fs', [target, ...(size ? [size] : [])]);
    if (r.exitCode !== 0)
      throw new WslFailure(
        diskErrors.resizeFailed(
          (r.stderr || r.stdout)
            .split('\n')
            .filter((l) => !l.startsWith('resize2fs '))
            .join(' ')
            .trim(),
        ),
      );
  }
}

/**
 * ext4 grows online only through a mount that resize2fs can see, and the disk is mounted in
 * the distro's namespace: a second mount of the same device here is the same file system
 * (the kernel shares one superblock), so resize2fs grows it through that, then it goes.
 */
async function growMounted(loop: string): Promise<void> {
  const at = await mkdtemp(join(tmpdir(), 'berth-wsl-grow-'));
  try {
    await mustRun('mount', [loop, at]);
    try {
      const r = await runCommand('resize2fs', [loop]);
      // EPERM: the kernel grows a mounted ext4 only with CAP_SYS_RESOURCE (a sandbox may withhold
      // it) and only while it has recorded no errors. Stopped, both work (e2fsck repairs first).
      if (r.exitCode !== 0 && /Permission denied/.test(r.stderr)) throw new WslFailure(diskErrors.inUse());
      if (r.exitCode !== 0) throw new WslFailure(diskErrors.resizeFailed(r.stderr || r.stdout));
    } finally {
      await runCommand('umount', [at]);
    }
  } finally {
    await rmdir(at).catch(() => {});
  }
}

/** The loop devices backed by this file (a mounted disk has exactly one). */
export async function loopDevicesOf(file: string): Promise<string[]> {
  const r = await runCommand('losetup', ['-j', file, '-O', 'NAME', '-n']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}
