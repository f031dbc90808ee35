import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WslHost } from '../../wsl-host/host.js';
import { DATA_DISTRO } from '../distros.js';
import { collectRegistryCerts, type TrustedCas } from './trusted-cas.js';
import { DATA_STORE_ROOT } from '../../common/shared-area.js';
import { removeTree } from '../../common/remove-tree.js';

/** In berth-data's store, which the engine sees under /var/lib (berth.yml: SSL_CERT_FILE, certs.d). */
const STORE_DIR = `${DATA_STORE_ROOT}/berth`;

/** Beside the bundle: while it exists, berth-runc gives every new container and build step the bundle. */
export const CONTAINERS_FLAG = 'containers-trust-host-cas';
/** Beside the bundle: the digest of what was last synced, so an unchanged set costs one small call. */
const SYNCED_MARK = '.synced';

export interface CaSyncResult {
  count: number;
  registries: number;
  warnings: string[];
  /** Whether new containers and build steps trust them too (containersTrustHostCAs). */
  containers: boolean;
}

/**
 * Puts the CAs the host trusts (plus $BERTH_HOME/certs and certs.d) where the engine reads
 * them: one tar through WSL, unpacked beside the old files and swapped in, so an engine
 * never sees half a bundle. dockerd reads certs.d at each pull, the bundle at its start;
 * berth-runc reads the bundle and the containers' flag at each container's create. Every
 * engine start asks this; when berth-data already holds the same set (its mark says so),
 * nothing is sent, and the tar library is not even loaded.
 */
export async function syncTrustedCas(wsl: WslHost, cas: TrustedCas, o: { certsDDir: string; containers: boolean }): Promise<CaSyncResult> {
  const registryFiles = await collectRegistryCerts(o.certsDDir);
  const result = { count: cas.count, registries: new Set(registryFiles.map((f) => f.registry)).size, warnings: cas.warnings, containers: o.containers };
  const digest = createHash('sha256')
    .update(JSON.stringify([cas.bundle, registryFiles, o.containers]))
    .digest('hex');
  const same = await wsl.run(DATA_DISTRO, ['sh', '-c', `[ "$(cat ${STORE_DIR}/${SYNCED_MARK} 2>/dev/null)" = "$1" ]`, 'sh', digest], { user: 'root' });
  if (same.exitCode === 0) return result;
  const work = await mkdtemp(join(tmpdir(), 'berth-cas-'));
  try {
    await writeFile(join(work, 'ca-certificates.crt'), cas.bundle, { mode: 0o644 });
    await mkdir(join(work, 'certs.d'), { mode: 0o755 });
    for (const f of registryFiles) {
      await mkdir(join(work, 'certs.d', f.registry), { recursive: true, mode: 0o755 });
      const path = join(work, 'certs.d', f.registry, f.file);
      await writeFile(path, f.contents);
      await chmod(path, f.file.endsWith('.key') ? 0o600 : 0o644);
    }
    const tar = await import('tar');
    const chunks: Buffer[] = [];
    for await (const c of tar.create({ cwd: work, portable: true }, ['ca-certificates.crt', 'certs.d'])) chunks.push(c);
    const script = [
      'set -e',
      `d=${STORE_DIR}`,
      // The mark goes first and last: a sync cut short never leaves an old mark over new files.
      `rm -f "$d/${SYNCED_MARK}"`,
      'mkdir -p "$d" && rm -rf "$d/.sync" && mkdir -m 0755 "$d/.sync" && tar -xf - -C "$d/.sync"',
      'chown -R 0:0 "$d/.sync"',
      'mv -f "$d/.sync/ca-certificates.crt" "$d/ca-certificates.crt"',
      'rm -rf "$d/certs.d.old"; [ ! -e "$d/certs.d" ] || mv "$d/certs.d" "$d/certs.d.old"',
      'mv "$d/.sync/certs.d" "$d/certs.d" && rm -rf "$d/certs.d.old" "$d/.sync"',
      // After the bundle is in place, so a new container never gets a half-synced one.
      o.containers ? `echo on > "$d/${CONTAINERS_FLAG}.tmp" && chmod 0644 "$d/${CONTAINERS_FLAG}.tmp" && mv -f "$d/${CONTAINERS_FLAG}.tmp" "$d/${CONTAINERS_FLAG}"` : `rm -f "$d/${CONTAINERS_FLAG}"`,
      `echo ${digest} > "$d/${SYNCED_MARK}.tmp" && chmod 0600 "$d/${SYNCED_MARK}.tmp" && mv -f "$d/${SYNCED_MARK}.tmp" "$d/${SYNCED_MARK}"`,
    ].join('\n');
    const r = await wsl.run(DATA_DISTRO, ['sh', '-c', script], { user: 'root', input: Buffer.concat(chunks) });
    if (r.exitCode !== 0) throw new Error(`could not put the trusted CAs into berth-data: ${r.stderr.trim() || r.stdout.trim()}`);
  } finally {
    await removeTree(work);
  }
  return result;
}
