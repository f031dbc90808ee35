import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { buildImages } from '../installer/images/build.js';
import { makeRootfsTarball } from '../test/helpers/busybox-distro.js';
import { distroInitPid } from '../test/helpers/processes.js';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../bin');

/** A Berth of its own under a fresh temporary root: enabled, with one integrated busybox distro "Ubuntu". */
export interface BenchBerth {
  root: string;
  env: Record<string, string | undefined>;
  berth: (args: string[]) => ReturnType<typeof execa>;
  wsl: (args: string[], input?: string) => ReturnType<typeof execa>;
  /** docker straight at the daemon's socket (no proxy). */
  docker: (args: string[], input?: Buffer | string) => ReturnType<typeof execa>;
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
