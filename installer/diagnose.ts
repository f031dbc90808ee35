import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import type { WslHost } from '../wsl-host/host.js';
import { backendStatus } from './backend/client.js';
import type { HomeLayout } from './home.js';
import { formatLine, readLogs } from '../bootstrap-distro/logd/client.js';
import { BERTH_DISTRO, DATA_DISTRO } from './distros.js';
import { AGENT } from './engine.js';
import { wakingDaemon } from './host-endpoint.js';
import { berthVersion } from './images/inputs.js';
import { httpRequest } from '../common/http-client.js';
import { AGENT_COMMAND, DATA_STORE_ROOT, sharedPath } from '../common/shared-area.js';
import { removeTree } from '../common/remove-tree.js';
import { hideUrlPasswords } from './secrets.js';

const SECRET_NAME = /TOKEN|PASSWORD|SECRET/i;

/** Replaces values of secret-looking NAME=value pairs and JSON keys. */
export function redact(text: string): string {
  return hideUrlPasswords(text, '<redacted>')
    .replace(/\b([A-Za-z0-9_]*(?:TOKEN|PASSWORD|SECRET)[A-Za-z0-9_]*)=([^\s"']+)/gi, '$1=<redacted>')
    .replace(/"([^"]*)"\s*:\s*"([^"]*)"/g, (m, key: string) => (SECRET_NAME.test(key) || key === 'auth' || key === 'identitytoken' ? `"${key}": "<redacted>"` : m));
}

async function engineGet(wsl: WslHost, path: string): Promise<string> {
  try {
    return (await httpRequest(wakingDaemon(wsl), { path })).body;
  } catch (e) {
    return `unavailable: ${(e as Error).message}`;
  }
}

async function inDistro(wsl: WslHost, distro: string, script: string): Promise<string> {
  const r = await wsl.run(distro, ['sh', '-c', script], { user: 'root' }).catch((e: Error) => ({ stdout: '', stderr: e.message }));
  return r.stdout || r.stderr;
}

/**
 * A tar.gz with what a bug report needs: the log daemon's ring, the persisted engine logs,
 * the manager's logs, status of manager and agent, the distro list, versions, mounts and
 * the engine's info. Values of *TOKEN*, *PASSWORD*, *SECRET* and registry auths are
 * redacted. Returns the bundle's path.
 */
export async function collectDiagnostics(home: HomeLayout, wsl: WslHost): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'berth-diagnose-'));
  try {
    const put = async (name: string, content: string) => {
      await mkdir(dirname(join(work, name)), { recursive: true });
      await writeFile(join(work, name), redact(content));
    };
    await put('status.json', JSON.stringify((await backendStatus(home)) ?? { state: 'stopped' }, null, 2));
    await put('distros.json', JSON.stringify(await wsl.list().catch((e: Error) => e.message), null, 2));
    for (const name of ['berth.log', 'backend.out']) {
      await put(`manager/${name}`, await readFile(join(home.logsDir, name), 'utf8').catch(() => ''));
    }
    const ring: string[] = [];
    const stream = await wsl.connect(BERTH_DISTRO, sharedPath('logSocket')).catch(() => undefined);
    if (stream) await readLogs(stream, 'dump', [], (e) => ring.push(formatLine(e))).catch(() => undefined);
    await put('engine/ring.log', ring.length ? `${ring.join('\n')}\n` : 'the log daemon was not running\n');
    // The persisted files, from berth-data's store (base64: wsl carries text).
    const persisted = await inDistro(wsl, DATA_DISTRO, `cd ${DATA_STORE_ROOT} && tar -cz log 2>/dev/null | base64`);
    if (persisted.trim()) {
      const archive = join(work, 'engine/persisted.tar.gz');
      await mkdir(dirname(archive), { recursive: true });
      await writeFile(archive, Buffer.from(persisted.replace(/\s+/g, ''), 'base64'));
      await tar.extract({ file: archive, cwd: join(work, 'engine') });
      await rm(archive);
      for (const f of await listFiles(join(work, 'engine/log'))) await writeFile(f, redact(await readFile(f, 'utf8')));
    }
    await put('engine/agent-status.json', await inDistro(wsl, BERTH_DISTRO, `${AGENT_COMMAND} status --json`));
    await put('engine/info.json', await engineGet(wsl, '/info'));
    await put('engine/version.json', await engineGet(wsl, '/version'));
    // Networking: the engine's side of the link, the WSL side, and the link's own log.
    const inEngine = (script: string) => inDistro(wsl, BERTH_DISTRO, `${AGENT} shell sh -c '${script}' 2>&1`);
    await put('network/engine-resolv.conf', await inEngine('cat /etc/resolv.conf'));
    await put('network/engine-routes.txt', await inEngine('ip addr; ip route; ip -6 route'));
    await put('network/engine-rules.txt', await inEngine('iptables-save; ip6tables-save'));
    await put('network/wsl-resolv.conf', await inDistro(wsl, BERTH_DISTRO, 'cat /etc/resolv.conf'));
    await put('network/wsl-routes.txt', await inDistro(wsl, BERTH_DISTRO, 'ip addr; ip route'));
    await put('network/engine-link.log', await readFile(join(home.logsDir, 'engine-link.log'), 'utf8').catch(() => '(no log: the link has not run)\n'));
    await put('berth/mounts.txt', await inDistro(wsl, BERTH_DISTRO, 'cat /proc/mounts'));
    await put('berth/os-release', await inDistro(wsl, BERTH_DISTRO, 'cat /etc/os-release'));
    const dockerConfig = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
    await put('docker-config.json', await readFile(dockerConfig, 'utf8').catch(() => '{}'));
    await put('versions.txt', `berth ${await berthVersion()}\nnode ${process.version}\nplatform ${process.platform} ${process.arch}\n`);
    const out = join(home.root, 'diagnostics');
    await mkdir(out, { recursive: true });
    const file = join(out, `berth-diagnostics-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`);
    await tar.create({ gzip: true, file, cwd: work, portable: true }, ['.']);
    return file;
  } finally {
    await removeTree(work);
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await listFiles(p)));
    else files.push(p);
  }
  return files;
}
