import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';
import { errors, type WslErrorText } from '../messages.js';
import { findByName, newRecord, type DistroRecord, type Registry } from './registry.js';
import { runCommand } from './run-command.js';
import type { DistroRuntime } from './runtime.js';

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

  async import(req: ImportRequest): Promise<void> {
    if (!NAME.test(req.name)) throw new WslFailure(errors.invalidArgument(req.name));
    if (!isAbsolute(req.installDir)) throw new WslFailure(errors.relativePath(req.installDir));
    if (req.source !== '-') {
      const s = await stat(req.source).catch(() => undefined);
      if (!s?.isFile()) throw new WslFailure(errors.fileNotFound());
    }
    // Reserve the name first, so a concurrent import of the same name fails at once.
    const record = await this.registry.update((reg) => {
      if (findByName(reg, req.name)) throw new WslFailure(errors.exists());
      const r = newRecord(req.name, req.installDir, req.version, req.vhd);
      reg.distros.push(r);
      return r;
    });
    const createdDir = !(await stat(req.installDir).catch(() => undefined));
    try {
      await mkdir(req.installDir, { recursive: true });
      if (req.vhd) await this.copyImage(req.source, join(req.installDir, 'ext4.vhdx'));
      else await this.extract(req.source, join(req.installDir, 'rootfs'));
      await this.registry.update((reg) => {
        const r = reg.distros.find((d) => d.id === record.id);
        if (r) r.state = 'Installed';
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
    const record = await this.registry.update((reg) => {
      const r = findByName(reg, name);
      if (!r) throw new WslFailure(errors.notFound());
      if (r.state === 'Installing') throw new WslFailure(errors.busy('it is still being imported'));
      r.state = 'Uninstalling';
      return { ...r };
    });
    await this.runtime.terminate(record);
    await this.removeFiles(record, false);
    await this.registry.update((reg) => {
      reg.distros = reg.distros.filter((d) => d.id !== record.id);
      if (reg.defaultId === record.id) reg.defaultId = reg.distros.find((d) => d.state === 'Installed')?.id ?? null;
    });
  }

  private async removeFiles(record: DistroRecord, removeDir: boolean): Promise<void> {
    await rm(this.runtime.rootfsPath(record), { recursive: true, force: true });
    const dirEmpty = (await readdir(record.basePath).catch(() => ['?'])).length === 0;
    if (removeDir || dirEmpty) await rmdir(record.basePath).catch(() => {});
  }

  private async extract(source: string, rootfs: string): Promise<void> {
    await mkdir(rootfs, { recursive: true });
    const input = source === '-' ? this.stdin : createReadStream(source);
    const head = await sniff(input);
    const r = await runCommand(
      'tar',
      ['-x', ...compressionFlag(head), '-p', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfs, '-f', '-'],
      { input },
    );
    if (r.exitCode !== 0) throw new Error(r.stderr.trim().split('\n').slice(-3).join(' ') || `tar exited with ${r.exitCode}`);
    if ((await readdir(rootfs)).length === 0) throw new Error('the archive is empty');
  }

  private async copyImage(source: string, target: string): Promise<void> {
    if (source === '-') throw new Error('--vhd needs a file, not standard input');
    const handle = await open(source, 'r');
    try {
      const magic = Buffer.alloc(2);
      await handle.read(magic, 0, 2, 0x438);
      // ext2/3/4 superblock magic 0xEF53, little-endian, at byte 1024 + 56.
      if (magic[0] !== 0x53 || magic[1] !== 0xef) throw new Error('the file is not an ext4 disk image');
    } finally {
      await handle.close();
    }
    await copyFile(source, target);
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
