import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';

export interface RootfsOptions {
  /** Contents of /etc/wsl.conf, if any. */
  wslConf?: string;
  /** Extra files, path (relative to /) → content. */
  files?: Record<string, string>;
}

export const BUSYBOX = '/bin/busybox';

/**
 * A small but real distro: static busybox with every applet linked, root and a user `me`
 * (uid 1000, also in group docker), as a directory. The stand-in for Ubuntu in tests,
 * benchmarks and the demo, where no Debian mirror may be reachable.
 */
export function makeRootfsDir(dir: string, options: RootfsOptions = {}): string {
  for (const d of ['bin', 'etc', 'root', 'home/me', 'tmp', 'srv']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) if (applet !== 'busybox') symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nme:x:1000:1000:Me:/home/me:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nme:x:1000:\ndocker:x:999:me\n');
  chownSync(join(dir, 'home/me'), 1000, 1000);
  if (options.wslConf !== undefined) writeFileSync(join(dir, 'etc/wsl.conf'), options.wslConf);
  for (const [path, content] of Object.entries(options.files ?? {})) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** The same distro as a .tar.gz, the way distros are shipped for `wsl --import`. */
export async function makeRootfsTarball(workDir: string, name: string, options: RootfsOptions = {}): Promise<string> {
  const dir = makeRootfsDir(join(workDir, `${name}-tree`), options);
  const file = join(workDir, `${name}.tar.gz`);
  await tar.create({ gzip: true, file, cwd: dir }, ['.']);
  return file;
}

/** The same distro as an ext4 image (what `--import --vhd` takes). */
export function makeRootfsImage(workDir: string, name: string, options: RootfsOptions = {}): string {
  const dir = makeRootfsDir(join(workDir, `${name}-tree`), options);
  const image = join(workDir, `${name}.ext4`);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', dir, image, '64M'], { stdio: 'pipe' });
  return image;
}
