import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { dropFastExecRecords } from './fast-exec.js';
import { writeListRecord } from './list-record.js';
import type { HostLayout } from './config.js';
import { withLock } from '../../common/lock.js';
import type { ProcessIdentity } from '../../common/process.js';

/** A registered distro: what wsl.exe keeps in HKCU\...\Lxss\{id}. */
export interface DistroRecord {
  id: string;
  name: string;
  /** The install directory given to --import. */
  basePath: string;
  version: 1 | 2;
  /** The rootfs is the ext4 image basePath/ext4.vhdx rather than the directory basePath/rootfs. */
  vhd: boolean;
  /** The image of a distro registered with --import-in-place (it keeps its own file name). */
  vhdPath?: string;
  /**
   * `--manage NAME --set-sparse`: recorded as wsl.exe records it. Here every image is a sparse
   * file whose trims punch holes; `true` also digs the holes its zeros already are.
   */
  sparse?: boolean;
  state: 'Installing' | 'Installed' | 'Uninstalling';
  /** The berth-wsl process importing or unregistering it: when it is gone, so is the work. */
  owner?: ProcessIdentity;
  /** The import made basePath (so a rollback removes it too). */
  createdDir?: boolean;
}

export interface RegistryFile {
  defaultId: string | null;
  distros: DistroRecord[];
}

const EMPTY: RegistryFile = { defaultId: null, distros: [] };

/** The registry of distros, read fresh for every call and changed under a lock. */
export class Registry {
  constructor(private readonly layout: HostLayout) {}

  async read(): Promise<RegistryFile> {
    try {
      const parsed = JSON.parse(await readFile(this.layout.registryFile, 'utf8')) as RegistryFile;
      return { defaultId: parsed.defaultId ?? null, distros: parsed.distros ?? [] };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(EMPTY);
      throw new Error(`The WSL host registry ${this.layout.registryFile} is unreadable (${(e as Error).message}); restore it or move it away`, { cause: e });
    }
  }

  /** Reads, lets fn change, and writes back atomically, all under the registry lock. */
  async update<T>(fn: (reg: RegistryFile) => T | Promise<T>): Promise<T> {
    await mkdir(this.layout.root, { recursive: true });
    return withLock(this.layout.registryLock, async () => {
      const reg = await this.read();
      const result = await fn(reg);
      await writeFileAtomic(this.layout.registryFile, `${JSON.stringify(reg, null, 2)}\n`);
      await writeListRecord(this.layout, reg);
      await dropFastExecRecords(this.layout.fastExecDir);
      return result;
    });
  }

  async find(name: string): Promise<DistroRecord | undefined> {
    return findByName(await this.read(), name);
  }

  async defaultDistro(): Promise<DistroRecord | undefined> {
    const reg = await this.read();
    return reg.distros.find((d) => d.id === reg.defaultId && d.state === 'Installed');
  }
}

/** Distro names are case-insensitive, as on Windows. */
export function findByName(reg: RegistryFile, name: string): DistroRecord | undefined {
  return reg.distros.find((d) => d.name.toLowerCase() === name.toLowerCase());
}

export function newRecord(name: string, basePath: string, version: 1 | 2, vhd: boolean, owner?: ProcessIdentity, createdDir?: boolean): DistroRecord {
  return { id: randomUUID(), name, basePath, version, vhd, state: 'Installing', ...(owner ? { owner } : {}), ...(createdDir ? { createdDir } : {}) };
}
