import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import type { WslHost } from '../wsl-host/host.js';
import { backendStatus } from './backend-client.js';
import type { HomeLayout } from './home.js';

const SECRET_NAME = /TOKEN|PASSWORD|SECRET/i;

/** Replaces values of secret-looking NAME=value pairs and JSON keys. */
export function redact(text: string): string {
  return text
    .replace(/\b([A-Za-z0-9_]*(?:TOKEN|PASSWORD|SECRET)[A-Za-z0-9_]*)=([^\s"']+)/gi, '$1=<redacted>')
    .replace(/"([^"]*)"\s*:\s*"([^"]*)"/g, (m, key: string) => (SECRET_NAME.test(key) || key === 'auth' ? `"${key}": "<redacted>"` : m));
}

/** A tar.gz with the manager's logs, status and the distro list; returns its path. */
export async function collectDiagnostics(home: HomeLayout, wsl: WslHost): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'berth-diagnose-'));
  try {
    const put = (name: string, content: string) => writeFile(join(work, name), redact(content));
    await put('status.json', JSON.stringify((await backendStatus(home)) ?? { state: 'stopped' }, null, 2));
    await put('distros.json', JSON.stringify(await wsl.list().catch((e: Error) => e.message), null, 2));
    for (const name of ['berth.log', 'backend.out']) {
      await put(name, await readFile(join(home.logsDir, name), 'utf8').catch(() => ''));
    }
    await put('versions.txt', `berth ${process.env.npm_package_version ?? ''}\nnode ${process.version}\nplatform ${process.platform} ${process.arch}\n`);
    const out = join(home.root, 'diagnostics');
    await mkdir(out, { recursive: true });
    const file = join(out, `berth-diagnostics-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`);
    await tar.create({ gzip: true, file, cwd: work, portable: true }, ['.']);
    return file;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
