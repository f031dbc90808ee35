import { stat } from 'node:fs/promises';

/**
 * A file's identity, inode:size:mtime-ns, or "-" when the file is missing: it changes with
 * every rewrite (an atomic write is a new inode), so what was derived from a file can be
 * kept until it does. wsl-host/native/wsl-entry.c formats it the same way.
 */
export async function fileIdentity(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return '-';
  }
}
