import { ProxyError } from './errors.js';

/** A Windows drive path, checked: its drive letter and what is under it, with no `.` or `..` left. */
export interface DrivePath {
  letter: string;
  /** Segments under the drive root, e.g. ['Users', 'me']; [] is the root itself. */
  segments: string[];
}

const VERBATIM = /^\\\\\?\\/; // \\?\ (Win32 "verbatim" prefix)
const DRIVE = /^([A-Za-z]):(.*)$/s;

/** `\\server\share`, `//server/share`, `\\?\UNC\server\share`: a network share, not a drive. */
export function isUncPath(source: string): boolean {
  return /^(\\\\|\/\/)(?!\?\\)[^\\/]/.test(source) || /^\\\\\?\\UNC\\/i.test(source);
}

/** `C:\…`, `C:/…`, `c:`, `\\?\C:\…`: a path the client names by drive letter. */
export function isDrivePath(source: string): boolean {
  return DRIVE.test(source.replace(VERBATIM, ''));
}

/**
 * Normalises a drive path before anything maps it: `.` dropped, `..` applied, mixed `\`
 * and `/`, repeated separators. A path whose `..` would climb above its drive root, a UNC
 * share, or a drive-relative path (`C:dir`) is refused with an error naming the fix.
 */
export function parseDrivePath(source: string): DrivePath {
  if (isUncPath(source)) {
    throw new ProxyError(
      400,
      `Berth: ${source} is a network share (UNC path); Berth shares drives, not shares: map the share to a drive letter and share that drive in Berth's settings ("drives"), or use a path on a shared drive`,
    );
  }
  const m = DRIVE.exec(source.replace(VERBATIM, ''));
  if (!m) throw new ProxyError(400, `Berth: ${source} is not a drive path (C:\\…)`);
  const [, letter, tail] = m as unknown as [string, string, string];
  if (tail !== '' && !/^[\\/]/.test(tail)) {
    throw new ProxyError(400, `Berth: ${source} is relative to drive ${letter.toUpperCase()}:'s current directory, which Berth cannot know; write the full path (${letter.toUpperCase()}:\\${tail})`);
  }
  const segments: string[] = [];
  for (const part of tail.split(/[\\/]+/)) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (segments.length === 0) throw new ProxyError(400, `Berth: ${source} leaves drive ${letter.toUpperCase()}: (its ".." climbs above the drive's root); name a path inside the drive`);
      segments.pop();
      continue;
    }
    if (part.includes('\0')) throw new ProxyError(400, `Berth: ${JSON.stringify(source)} holds a NUL byte; it is not a path`);
    segments.push(part);
  }
  return { letter: letter.toLowerCase(), segments };
}

/** The daemon's view of a drive path: `/mnt/host/<letter>/…`. */
export function daemonDrivePath(p: DrivePath): string {
  return ['/mnt/host', p.letter, ...p.segments].join('/');
}
