import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { buildImages } from '../installer/images/build.js';
import { makeRootfsTarball } from '../wsl-host/busybox-distro.js';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../bin');

/** A Berth of its own under a fresh temporary root: enabled, with one integrated busybox distro "Ubuntu". */
export interface BenchBerth {
  root: string;
  env: Record<string, string | undefined>;
  berth(args: string[]): ReturnType<typeof execa>;
  wsl(args: string[], input?: string): ReturnType<typeof execa>;
  /** docker straight at the daemon's socket (no proxy). */
  docker(args: string[], input?: Buffer | string): ReturnType<typeof execa>;
  daemonSocket: string;
  /** The host pid of a distro's init (its namespaces are the distro's). */
  initPid(distro: string): number;
}

export async function withIntegratedBerth<T>(label: string, body: (b: BenchBerth) => Promise<T>): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), `berth-bench-${label}-`));
  const env = { ...process.env, BERTH_WSL_ROOT: join(root, 'wsl'), BERTH_HOME: join(root, 'home'), DOCKER_CONFIG: join(root, 'docker'), BERTH_WSL_IDLE_TIMEOUT: '0', BERTH_IMAGES: join(root, 'images'), WSL_UTF8: '1' };
  const daemonSocket = join(env.BERTH_WSL_ROOT, 'run/wsl/berth/docker.sock');
  const b: BenchBerth = {
    root,
    env,
    daemonSocket,
    berth: (args) => execa(join(BIN, 'berth'), args, { env }),
    wsl: (args, input) => execa(join(BIN, 'berth-wsl'), args, { env, ...(input ? { input } : {}) }),
    docker: (args, input) => execa('docker', ['-H', `unix://${daemonSocket}`, ...args], { env, ...(input ? { input } : {}) }),
    initPid: (distro) => distroInitPid(env.BERTH_WSL_ROOT, distro),
  };
  try {
    await buildImages(env.BERTH_IMAGES);
    await b.berth(['enable']);
    await b.wsl(['--import', 'Ubuntu', join(root, 'distros/Ubuntu'), await makeRootfsTarball(root, 'ubuntu')]);
    await b.berth(['integrate', 'Ubuntu']);
    return await body(b);
  } finally {
    await execa(join(BIN, 'berth'), ['stop'], { env, reject: false });
    await execa(join(BIN, 'berth-wsl'), ['--shutdown'], { env, reject: false });
    rmSync(root, { recursive: true, force: true });
  }
}

/** The host pid of a running distro's init under a Linux WSL host root. */
export function distroInitPid(wslRoot: string, distro: string): number {
  const reg = JSON.parse(readFileSync(join(wslRoot, 'registry.json'), 'utf8')) as { distros: Array<{ id: string; name: string }> };
  const id = reg.distros.find((d) => d.name === distro)?.id;
  if (!id) throw new Error(`no distro ${distro} under ${wslRoot}`);
  return (JSON.parse(readFileSync(join(wslRoot, 'run/distros', id, 'init.json'), 'utf8')) as { pid: number }).pid;
}

/**
 * Berth's processes on the host: the backend's tree (its berth-wsl clients, the port helper,
 * the proxies) and the berth distro's (the detached supervisor, the engine).
 */
export function berthProcesses(backendPid: number, wslRoot: string): number[] {
  return [...new Set([...processTree(backendPid), ...processTree(distroInitPid(wslRoot, 'berth'))])];
}

/** Every process under `pid` (itself included), from the host's /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

export function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Resident memory in KiB (0 if the process is gone). */
export function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
