import { posix } from 'node:path';
import { daemonDrivePath, isDrivePath, isUncPath, parseDrivePath } from './client-paths.js';
import { ProxyError } from './errors.js';
import type { PathTranslator } from './translate.js';

/** Host mode: a host path on a shared drive → the daemon's `/mnt/host/<letter>/…`. */
export class HostDriveTranslator implements PathTranslator {
  /** drives: letter → host directory (drive-sharing settings). */
  constructor(private readonly drives: Record<string, string>) {}

  async toDaemon(source: string): Promise<string> {
    if (isDrivePath(source) || isUncPath(source)) {
      const drive = parseDrivePath(source);
      if (!this.drives[drive.letter]) throw this.notShared(source);
      return daemonDrivePath(drive);
    }
    if (!source.startsWith('/')) throw new ProxyError(400, `invalid mount config: bind source ${source} must be an absolute path`);
    const path = posix.normalize(source);
    for (const [letter, dir] of Object.entries(this.drives)) {
      const base = posix.normalize(dir).replace(/\/$/, '');
      if (path === base || path.startsWith(`${base}/`)) return posix.join('/mnt/host', letter, path.slice(base.length));
    }
    throw this.notShared(source);
  }

  /** The daemon's `/mnt/host/<letter>/…` as the host's own path (inspect shows the user's paths); undefined for any other path. */
  toClient(daemonPath: string): string | undefined {
    const m = /^\/mnt\/host\/([a-z])(\/.*)?$/.exec(posix.normalize(daemonPath));
    const dir = m ? this.drives[m[1]!] : undefined;
    if (!m || dir === undefined) return undefined;
    const rest = m[2] ?? '';
    // A Windows drive (C:\): its own separators.
    if (/^[A-Za-z]:[\\/]/.test(dir)) return rest ? `${dir.replace(/[\\/]+$/, '')}${rest.replace(/\//g, '\\')}` : dir;
    return posix.join(dir, rest);
  }

  private notShared(source: string): ProxyError {
    const shared =
      Object.entries(this.drives)
        .map(([l, d]) => `${l}=${d}`)
        .join(', ') || 'none';
    return new ProxyError(400, `Berth: ${source} is not on a shared drive (shared: ${shared}); add its drive to "drives" in Berth's settings, or use a path under a shared one`);
  }
}
