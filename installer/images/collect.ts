import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readlink, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { findProgram, SYSTEM_DIRS } from '../../common/find-program.js';

const execFileAsync = promisify(execFile);

/** A binary Berth needs from the machine, and the Debian package that provides it. */
export interface BinarySource {
  name: string;
  /** Absolute path, or a name looked up on PATH (and sbin dirs). */
  path: string;
  debianPackage: string;
}

export class MissingBinaryError extends Error {}

/** Finds the binary or explains which package to install. */
export async function locate(source: BinarySource): Promise<string> {
  const found = await findProgram(source.path, SYSTEM_DIRS);
  if (found) return found;
  const looked = source.path.startsWith('/') ? source.path : SYSTEM_DIRS.map((d) => join(d, source.path)).join(', ');
  throw new MissingBinaryError(`${source.name} not found (looked for ${looked}); install the Debian package ${source.debianPackage} (apt-get install ${source.debianPackage}) or point the image build at another source`);
}

/** The shared libraries (and loader) a dynamic binary needs, by ldd; none for a static one. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await execFileAsync('ldd', [binary]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path) libs.push(path);
  }
  return libs;
}

/**
 * Copies a file into the staging tree at `target` (following links: the image gets the
 * real bytes under the name the binary asks for).
 */
export async function stageFile(stagingRoot: string, source: string, target: string, mode?: number): Promise<void> {
  const dest = join(stagingRoot, target);
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(await realpath(source), dest);
  await chmod(dest, mode ?? (await stat(source)).mode & 0o7777);
}

/**
 * Copies a dynamic binary and its libraries: under libDir if given (for a private runtime
 * loaded with --library-path), else at the paths the machine has them; the loader always
 * at its usual path too.
 */
export async function stageBinaryWithLibs(stagingRoot: string, binary: string, target: string, libDir?: string): Promise<void> {
  await stageFile(stagingRoot, binary, target);
  for (const lib of await sharedLibraries(binary)) {
    await stageFile(stagingRoot, lib, libDir ? join(libDir, basename(lib)) : lib);
    if (libDir && basename(lib).startsWith('ld-linux')) await stageFile(stagingRoot, lib, lib);
  }
}

export async function stageText(stagingRoot: string, target: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const dest = join(stagingRoot, target);
  await mkdir(dirname(dest), { recursive: true });
  await writeFile(dest, content);
  await chmod(dest, mode);
}

export async function stageSymlink(stagingRoot: string, target: string, linkTo: string): Promise<void> {
  const dest = join(stagingRoot, target);
  await mkdir(dirname(dest), { recursive: true });
  if ((await readlink(dest).catch(() => undefined)) !== linkTo) await symlink(linkTo, dest);
}

export async function stageDirs(stagingRoot: string, dirs: string[], mode = 0o755): Promise<void> {
  for (const d of dirs) {
    await mkdir(join(stagingRoot, d), { recursive: true });
    await chmod(join(stagingRoot, d), d === 'tmp' ? 0o1777 : mode);
  }
}

/** Static busybox with a link for each applet. */
export async function stageBusybox(stagingRoot: string, busybox: string): Promise<void> {
  await stageFile(stagingRoot, busybox, 'bin/busybox', 0o755);
  const { stdout } = await execFileAsync(busybox, ['--list']);
  for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
    await stageSymlink(stagingRoot, `bin/${applet}`, 'busybox');
  }
}
