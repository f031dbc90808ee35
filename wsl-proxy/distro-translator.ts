import { mkdir, readFile, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { isMountPoint } from '../common/mountinfo.js';
import { parseWslConf } from '../common/wsl-conf.js';
import { daemonDrivePath, isDrivePath, isUncPath, parseDrivePath } from './client-paths.js';
import type { BindMounts } from './bind-mounts.js';
import { ProxyError } from './errors.js';
import type { PathTranslator } from './translate.js';

/** The distro's automount root from its /etc/wsl.conf (default /mnt/). */
export async function automountRoot(): Promise<string> {
  // The WSL host's own parser: one reading of wsl.conf, wherever it is read.
  return parseWslConf(await readFile('/etc/wsl.conf', 'utf8').catch(() => '')).automount.root;
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
    /** Whether this distro has drive `letter` mounted (at <automount root><letter>). */
    private readonly hasDrive: (letter: string) => Promise<boolean> = (letter) => isMountPoint(`${autoRoot}${letter}`),
  ) {}

  /** Where this distro sees the shared area. */
  get shared(): string {
    return `${this.autoRoot}wsl`;
  }

  async toDaemon(source: string, options: { createMissing: boolean }): Promise<string> {
    if (isDrivePath(source) || isUncPath(source)) {
      const drive = parseDrivePath(source);
      if (!(await this.hasDrive(drive.letter))) throw this.noSuchDrive(source, drive.letter);
      return daemonDrivePath(drive);
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
    // (wsl is no drive letter, so the shared area is not taken for one; with an automount
    // root of / a one-letter folder is a drive only if a drive is mounted there.)
    if (drive && drive[1] && (await this.hasDrive(drive[1]))) return posix.join('/mnt/host', drive[1], drive[2] ?? '');
    // The shared area is the same place for the daemon, at /mnt/wsl.
    if (real === this.shared || real.startsWith(`${this.shared}/`)) return `/mnt/wsl${real.slice(this.shared.length)}`;
    return this.mounts.ensure(real);
  }

  private noSuchDrive(source: string, letter: string): ProxyError {
    return new ProxyError(
      400,
      `Berth: ${source} is on drive ${letter.toUpperCase()}:, which this distro does not have (no ${this.autoRoot}${letter}); share that drive in Berth's settings ("drives"), or use a path on a shared drive`,
    );
  }
}
