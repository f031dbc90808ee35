import { createReadStream } from 'node:fs';
import { mkdir, readdir, rmdir, stat } from 'node:fs/promises';
import { isExt4Image } from './ext4-image.js';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { errors, type WslErrorText } from '../messages.js';
import { findByName, newRecord, type DistroRecord, type Registry } from './registry.js';
import { liveStartTime } from '../../common/process.js';
import { runCommand } from '../../common/run-command.js';
import type { DistroRuntime } from './runtime.js';
import { removeTree } from '../../common/remove-tree.js';

/** A failure wsl.exe would report with one of its own texts. */
export class WslFailure extends Error {
  constructor(readonly wsl: WslErrorText) {
    super(wsl.text);
  }
}

export interface ImportRequest {
  name: string;
  installDir: string;
  /** A file path, or '-' for standard input. */
  source: string;
  version: 1 | 2;
  vhd: boolean;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Registers and unregisters distros; nothing half-made survives a failure. */
export class Importer {
  constructor(
    private readonly registry: Registry,
    private readonly runtime: DistroRuntime,
    private readonly stdin: Readable = process.stdin,
  ) {}

  async import(asked: ImportRequest): Promise<void> {
    // wsl.exe makes the install location absolute against the caller's directory (AbsolutePath in WslClient.cpp).
    const req = { ...asked, installDir: resolve(asked.installDir) };
    if (!NAME.test(req.name)) throw new WslFailure(errors.invalidArgument(req.name));
    if (req.source !== '-') {
      const s = await stat(req.source).catch(() => undefined);
      if (!s?.isFile()) throw new WslFailure(errors.fileNotFound());
    }
    const createdDir = !(await stat(req.installDir).catch(() => undefined));
    const owner = await self();
    // Reserve the name first, so a concurrent import of the same name fails at once.
    const record = await this.registry.update((reg) => {
      if (findByName(reg, req.name)) throw new WslFailure(errors.exists());
      const r = newRecord(req.name, req.installDir, req.version, req.vhd, owner, createdDir);
      reg.distros.push(r);
      return r;
    });
    try {
      await mkdir(req.installDir, { recursive: true });
      if (req.vhd) await this.copyImage(req.source, join(req.installDir, 'ext4.vhdx'));
      else await this.extract(req.source, join(req.installDir, 'rootfs'));
      await this.registry.update((reg) => {
        const r = reg.distros.find((d) => d.id === record.id);
        if (r) {
          r.state = 'Installed';
          delete r.owner;
          delete r.createdDir;
        }
        if (!reg.defaultId) reg.defaultId = record.id;
      });
    } catch (e) {
      await this.removeFiles(record, createdDir);
      await this.registry.update((reg) => {
        reg.distros = reg.distros.filter((d) => d.id !== record.id);
      });
      throw e instanceof WslFailure ? e : new WslFailure(errors.importFailed((e as Error).message));
    }
  }

  async unregister(name: string): Promise<void> {
    const owner = await self();
    const record = await this.registry.update((reg) => {
      const r = findByName(reg, name);
      if (!r) throw new WslFailure(errors.notFound());
      if (r.state === 'Installing') throw new WslFailure(errors.busy('it is still being imported'));
      r.state = 'Uninstalling';
      if (owner) r.owner = owner;
      return { ...r };
    });
    await this.finishUnregister(record);
  }

  /**
   * An import or unregister whose berth-wsl was killed (the process named as the record's
   * owner is gone): an import is rolled back — its files removed, the name free again, as if
   * it never started, since the stream it read from died with it — and an unregister is
   * finished. So no distro stays `Installing` for ever, and none half-made ever runs. (On
   * Windows the WSL service does the import, not wsl.exe; Berth's manager copes either way:
   * a name that is free is imported again.) Returns what it cleaned up.
   */
  async recoverAbandoned(): Promise<string[]> {
    const abandoned = async (d: DistroRecord) => d.state !== 'Installed' && !(d.owner && (await liveStartTime(d.owner.pid)) === d.owner.startTime);
    const candidates: DistroRecord[] = [];
    for (const d of (await this.registry.read()).distros) if (await abandoned(d)) candidates.push(d);
    const done: string[] = [];
    for (const d of candidates) {
      // Look again under the lock: another berth-wsl may be cleaning the same record.
      const claimed = await this.registry.update(async (reg) => {
        const r = reg.distros.find((x) => x.id === d.id);
        if (!r || !(await abandoned(r))) return false;
        r.owner = await self();
        return true;
      });
      if (!claimed) continue;
      if (d.state === 'Installing') {
        await this.removeFiles(d, d.createdDir ?? false);
        await this.registry.update((reg) => {
          reg.distros = reg.distros.filter((x) => x.id !== d.id);
          if (reg.defaultId === d.id) reg.defaultId = reg.distros.find((x) => x.state === 'Installed')?.id ?? null;
        });
        done.push(`${d.name}: an interrupted import was rolled back`);
      } else {
        await this.finishUnregister(d);
        done.push(`${d.name}: an interrupted unregister was finished`);
      }
    }
    return done;
  }

  private async finishUnregister(record: DistroRecord): Promise<void> {
    await this.runtime.terminate(record);
    await this.removeFiles(record, false);
    await this.registry.update((reg) => {
      reg.distros = reg.distros.filter((d) => d.id !== record.id);
      if (reg.defaultId === record.id) reg.defaultId = reg.distros.find((d) => d.state === 'Installed')?.id ?? null;
    });
  }

  private async removeFiles(record: DistroRecord, removeDir: boolean): Promise<void> {
    await removeTree(this.runtime.rootfsPath(record));
    const dirEmpty = (await readdir(record.basePath).catch(() => ['?'])).length === 0;
    // An image registered in place lies in a directory of the user's choosing: it stays.
    if (removeDir || (dirEmpty && !record.vhdPath)) await rmdir(record.basePath).catch(() => {});
  }

  private async extract(source: string, rootfs: string): Promise<void> {
    await mkdir(rootfs, { recursive: true });
    const input = source === '-' ? this.stdin : createReadStream(source);
    const head = await sniff(input);
    const r = await runCommand('tar', ['-x', ...compressionFlag(head), '-p', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfs, '-f', '-'], { input });
    if (r.exitCode !== 0) throw new Error(r.stderr.trim().split('\n').slice(-3).join(' ') || `tar exited with ${r.exitCode}`);
    if ((await readdir(rootfs)).length === 0) throw new Error('the archive is empty');
  }

  private async copyImage(source: string, target: string): Promise<void> {
    if (source === '-') throw new Error('--vhd needs a file, not standard input');
    if (!(await isExt4Image(source))) throw new Error('the file is not an ext4 disk image');
    // A disk image is mostly holes: copied sparse, a 64 GiB image costs what it holds.
    const r = await runCommand('cp', ['--sparse=always', '--', source, target]);
    if (r.exitCode !== 0) throw new Error(`copying the disk image failed: ${r.stderr || `cp exited with ${r.exitCode}`}`);
  }
}

/** The first chunk of a stream, put back so that the stream still yields everything. */
function sniff(input: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    const onReadable = () => {
      const chunk = input.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      input.unshift(chunk);
      resolve(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.alloc(0));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    input.on('readable', onReadable);
    input.once('end', onEnd);
    input.once('error', onError);
  });
}

export function compressionFlag(head: Buffer): string[] {
  if (head[0] === 0x1f && head[1] === 0x8b) return ['-z'];
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return ['-J'];
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return ['--zstd'];
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return ['-j'];
  return [];
}

/** This process, as a record's owner. */
async function self(): Promise<{ pid: number; startTime: string } | undefined> {
  const startTime = await liveStartTime(process.pid);
  return startTime ? { pid: process.pid, startTime } : undefined;
}
