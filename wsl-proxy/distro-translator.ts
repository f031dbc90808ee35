import { mkdir, readFile, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { isWindowsPath, windowsDrivePath } from './binds.js';
import type { BindMounts } from './bind-mounts.js';
import { ProxyError } from './errors.js';
import type { PathTranslator } from './translate.js';

/** The distro's automount root from its /etc/wsl.conf (default /mnt/). */
export async function automountRoot(): Promise<string> {
  const conf = await readFile('/etc/wsl.conf', 'utf8').catch(() => '');
  let section = '';
  for (const raw of conf.split('\n')) {
    const line = raw.trim();
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1]!.trim().toLowerCase();
    const kv = /^root\s*=\s*"?([^"]+?)"?\s*$/.exec(line);
    if (section === 'automount' && kv) return kv[1]!.endsWith('/') ? kv[1]! : `${kv[1]}/`;
  }
  return '/mnt/';
}

/**
 * Distro mode: Windows drive paths (`C:\…` or `<automount root><letter>/…`) go to the
 * daemon's /mnt/host/<letter>; any other path of this distro is bind-mounted into the
 * shared area and the daemon gets that place. Symlinks resolve in this distro.
 */
export class DistroTranslator implements PathTranslator {
  constructor(
    private readonly mounts: BindMounts,
    private readonly autoRoot: string,
  ) {}

  /** Where this distro sees the shared area. */
  get shared(): string {
    return `${this.autoRoot}wsl`;
  }

  async toDaemon(source: string, options: { createMissing: boolean }): Promise<string> {
    if (isWindowsPath(source)) {
      const { letter, rest } = windowsDrivePath(source);
      return posix.join('/mnt/host', letter, rest);
    }
    if (!source.startsWith('/')) throw new ProxyError(400, `invalid mount config: bind source ${source} must be an absolute path`);
    let real: string;
    try {
      real = await realpath(source);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ProxyError(400, `Berth: cannot read ${source} in this distro (${(e as NodeJS.ErrnoException).code}); check its permissions`);
      }
      // Docker's own behaviours: -v creates a missing directory, --mount refuses.
      if (!options.createMissing) throw new ProxyError(400, `invalid mount config for type "bind": bind source path does not exist: ${source}`);
      await mkdir(source, { recursive: true });
      real = await realpath(source);
    }
    const drive = new RegExp(`^${this.autoRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([a-z])(/.*)?$`).exec(real);
    // (wsl is no drive letter, so the shared area is not taken for one.)
    if (drive && drive[1]) return posix.join('/mnt/host', drive[1], drive[2] ?? '');
    // The shared area is the same place for the daemon, at /mnt/wsl.
    if (real === this.shared || real.startsWith(`${this.shared}/`)) return `/mnt/wsl${real.slice(this.shared.length)}`;
    return this.mounts.ensure(real);
  }
}
