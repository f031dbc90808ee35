import { access, constants } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';

/** The system's program directories, root's sbin first, in a fixed order (image builds must not depend on PATH). */
export const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** PATH, then the system directories. */
export function searchDirs(path = process.env.PATH ?? ''): string[] {
  return [...new Set([...path.split(':'), ...SYSTEM_DIRS].filter(Boolean))];
}

/** Where an executable program is: `name` itself when absolute, else the first of `dirs` that has it. */
export async function findProgram(name: string, dirs: string[] = searchDirs()): Promise<string | undefined> {
  for (const candidate of isAbsolute(name) ? [name] : dirs.map((d) => join(d, name))) {
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}
