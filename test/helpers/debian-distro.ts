import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO } from './wsl-root.js';

/**
 * A Debian user distro's root (scripts/make-debian-distro.sh: debootstrap, user `me`,
 * docker-compose), kept in a cache as a downloaded distro would be.
 */
export async function debianRootfsTarball(): Promise<string> {
  const file = join(process.env.BERTH_TEST_CACHE ?? '/var/cache/berth-test', 'debian-bookworm-v1.tar.gz');
  if (existsSync(file)) return file;
  const r = await execa('bash', [join(REPO, 'scripts/make-debian-distro.sh'), file], { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`making the Debian distro failed:\n${r.all}`);
  return file;
}
