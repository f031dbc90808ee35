import { readFile } from 'node:fs/promises';

/** One line of /proc/PID/mountinfo (proc(5)), with the octal escapes (\040 for space…) decoded. */
export interface MountEntry {
  mountId: number;
  parentId: number;
  /** The path inside the filesystem that is mounted (for a bind mount, its source's path). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The one parser of mountinfo's format: every other module reads mounts through it. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    // Optional fields end at a lone '-'; after it: fs type, source, super options.
    const dash = fields.indexOf('-', 6);
    if (fields.length < 7 || dash < 0) continue;
    out.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      root: unescapeMountPath(fields[3]!),
      mountPoint: unescapeMountPath(fields[4]!),
      fsType: fields[dash + 1] ?? '',
      source: unescapeMountPath(fields[dash + 2] ?? ''),
    });
  }
  return out;
}

/** Mount points of this process's mount namespace. */
export async function mountPoints(): Promise<string[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8')).map((m) => m.mountPoint);
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return (await mountPoints()).filter((m) => m === dir || m.startsWith(prefix)).sort((a, b) => b.length - a.length);
}
