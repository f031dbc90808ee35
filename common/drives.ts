import { posix } from 'node:path';

/** A "Windows drive": a host directory that every distro sees at <automount root>/<letter>. */
export interface Drive {
  letter: string;
  hostPath: string;
}

/** Parses BERTH_WSL_DRIVES: `c=/dir;d=/other`. Throws with the offending part named. */
export function parseDrives(spec: string): Drive[] {
  const drives: Drive[] = [];
  for (const part of spec
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z])=(\/.*)$/.exec(part);
    if (!m) throw new Error(`BERTH_WSL_DRIVES: "${part}" is not LETTER=/absolute/dir (e.g. c=/srv/c;d=/data)`);
    const letter = m[1]!.toLowerCase();
    if (drives.some((d) => d.letter === letter)) throw new Error(`BERTH_WSL_DRIVES: drive ${letter} is given twice`);
    drives.push({ letter, hostPath: posix.normalize(m[2]!).replace(/\/$/, '') || '/' });
  }
  return drives;
}

/** Where a host path appears inside a distro, if it lies on a drive. */
export function hostPathToDistro(hostPath: string, drives: Drive[], automountRoot: string): string | undefined {
  const path = posix.normalize(hostPath);
  for (const d of drives) {
    if (path === d.hostPath || path.startsWith(`${d.hostPath}/`)) {
      return posix.join(automountRoot, d.letter, path.slice(d.hostPath.length));
    }
  }
  return undefined;
}

/** `C:\Users\me` or `C:/Users/me` → `/mnt/c/Users/me`; undefined for anything else. */
export function windowsPathToDistro(path: string, automountRoot: string): string | undefined {
  const m = /^(?:\\\\\?\\)?([A-Za-z]):(?:[\\/](.*))?$/.exec(path);
  if (!m) return undefined;
  return posix.join(automountRoot, m[1]!.toLowerCase(), (m[2] ?? '').replace(/\\/g, '/'));
}
