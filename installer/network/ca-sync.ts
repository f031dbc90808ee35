import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { WslHost } from '../../wsl-host/host.js';
import { DATA_DISTRO } from '../distros.js';
import { collectRegistryCerts, type TrustedCas } from './trusted-cas.js';
import { DATA_STORE_ROOT } from '../../common/shared-area.js';
import { removeTree } from '../../common/remove-tree.js';

/** In berth-data's store, which the engine sees under /var/lib (berth.yml: SSL_CERT_FILE, certs.d). */
const STORE_DIR = `${DATA_STORE_ROOT}/berth`;

/** Beside the bundle: while it exists, berth-runc gives every new container and build step the bundle. */
export const CONTAINERS_FLAG = 'containers-trust-host-cas';

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
 * berth-runc reads the bundle and the containers' flag at each container's create.
 */
export async function syncTrustedCas(wsl: WslHost, cas: TrustedCas, o: { certsDDir: string; containers: boolean }): Promise<CaSyncResult> {
  const registryFiles = await collectRegistryCerts(o.certsDDir);
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
    const chunks: Buffer[] = [];
    for await (const c of tar.create({ cwd: work, portable: true }, ['ca-certificates.crt', 'certs.d'])) chunks.push(c);
    const script = [
      'set -e',
      `d=${STORE_DIR}`,
      'mkdir -p "$d" && rm -rf "$d/.sync" && mkdir -m 0755 "$d/.sync" && tar -xf - -C "$d/.sync"',
      'chown -R 0:0 "$d/.sync"',
      'mv -f "$d/.sync/ca-certificates.crt" "$d/ca-certificates.crt"',
      'rm -rf "$d/certs.d.old"; [ ! -e "$d/certs.d" ] || mv "$d/certs.d" "$d/certs.d.old"',
      'mv "$d/.sync/certs.d" "$d/certs.d" && rm -rf "$d/certs.d.old" "$d/.sync"',
      // After the bundle is in place, so a new container never gets a half-synced one.
      o.containers ? `echo on > "$d/${CONTAINERS_FLAG}.tmp" && chmod 0644 "$d/${CONTAINERS_FLAG}.tmp" && mv -f "$d/${CONTAINERS_FLAG}.tmp" "$d/${CONTAINERS_FLAG}"` : `rm -f "$d/${CONTAINERS_FLAG}"`,
    ].join('\n');
    const r = await wsl.run(DATA_DISTRO, ['sh', '-c', script], { user: 'root', input: Buffer.concat(chunks) });
    if (r.exitCode !== 0) throw new Error(`could not put the trusted CAs into berth-data: ${r.stderr.trim() || r.stdout.trim()}`);
  } finally {
    await removeTree(work);
  }
  return { count: cas.count, registries: new Set(registryFiles.map((f) => f.registry)).size, warnings: cas.warnings, containers: o.containers };
}
