import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

/** What the clients test needs in a real Debian user distro, besides the base system. */
const PACKAGES = ['docker-compose', 'curl', 'ca-certificates', 'passwd'];
const SUITE = 'bookworm';

/**
 * A Debian user distro's root as a tarball, made with debootstrap from Debian's mirror
 * (~1 min) and kept in a cache, as a downloaded distro would be: user `me` (uid 1000, the
 * default user, not in any docker group), docker-compose from Debian.
 * Made beside its final name and renamed, so two test runs never see half a tarball.
 */
export async function debianRootfsTarball(): Promise<string> {
  const cache = process.env.BERTH_TEST_CACHE ?? '/var/cache/berth-test';
  const file = join(cache, `debian-${SUITE}-${PACKAGES.join('+')}.tar.gz`);
  if (existsSync(file)) return file;
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(cache, 'debootstrap-'));
  try {
    const root = join(work, 'root');
    const mirror = process.env.BERTH_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
    const r = await execa('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, root, mirror], { reject: false, all: true });
    if (r.exitCode !== 0) throw new Error(`debootstrap ${SUITE} from ${mirror} failed (set BERTH_DEBIAN_MIRROR for another mirror):\n${String(r.all).split('\n').slice(-15).join('\n')}`);
    await execa('chroot', [root, 'useradd', '-m', '-u', '1000', '-s', '/bin/bash', 'me']);
    writeFileSync(join(root, 'etc/wsl.conf'), '[user]\ndefault=me\n');
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
    await execa('tar', ['-C', root, '--numeric-owner', '-czf', `${file}.partial`, '.']);
    renameSync(`${file}.partial`, file);
    return file;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
