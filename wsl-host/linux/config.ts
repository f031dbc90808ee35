import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../package-root.js';
import { parseDrives, type Drive } from '../../common/drives.js';

/** Where the Linux WSL host keeps everything, and the knobs DESIGN.md fixes as env vars. */
export interface HostConfig {
  root: string;
  drives: Drive[];
  /** Seconds without an attached process before a distro is terminated; 0 = never. */
  idleTimeout: number;
  /** The static helper that plays WSL's /init. */
  initBinary: string;
  /** The shell scripts that set up the VM and a distro. */
  scriptsDir: string;
  utf8: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The root when BERTH_WSL_ROOT is unset (DESIGN's contract; berth-wsl's native entry, wsl-entry.c, has it too, and a test holds them equal). */
export const DEFAULT_WSL_ROOT = '/var/lib/berth-wsl';

export function wslRootFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.BERTH_WSL_ROOT || DEFAULT_WSL_ROOT;
}

/** The "Windows drives": BERTH_WSL_DRIVES (`c=/dir;d=/other`), by default `c=<root>/drives/c`. */
export function drivesFromEnv(env: NodeJS.ProcessEnv = process.env): Drive[] {
  return parseDrives(env.BERTH_WSL_DRIVES ?? `c=${join(wslRootFromEnv(env), 'drives/c')}`);
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HostConfig {
  const root = wslRootFromEnv(env);
  if (!root.startsWith('/')) throw new Error(`BERTH_WSL_ROOT must be an absolute path, not "${root}"`);
  const idleText = env.BERTH_WSL_IDLE_TIMEOUT ?? '15';
  const idleTimeout = Number(idleText);
  if (!Number.isInteger(idleTimeout) || idleTimeout < 0) {
    throw new Error(`BERTH_WSL_IDLE_TIMEOUT must be a whole number of seconds (0 = never), not "${idleText}"`);
  }
  const pkg = packageRoot(here);
  return {
    root,
    drives: drivesFromEnv(env),
    idleTimeout,
    initBinary: env.BERTH_WSL_INIT || join(pkg, 'dist/native/berth-init'),
    scriptsDir: join(pkg, 'wsl-host/scripts'),
    utf8: env.WSL_UTF8 === '1',
  };
}

/** The files and directories under the root. `run/` holds what lives only while the VM is up. */
export class HostLayout {
  constructor(readonly root: string) {}
  get registryFile() {
    return join(this.root, 'registry.json');
  }
  get registryLock() {
    return join(this.root, 'registry.lock');
  }
  get runDir() {
    return join(this.root, 'run');
  }
  get vmDir() {
    return join(this.runDir, 'vm');
  }
  get vmNet() {
    return join(this.vmDir, 'net');
  }
  get vmMnt() {
    return join(this.vmDir, 'mnt');
  }
  get vmLock() {
    return join(this.root, 'vm.lock');
  }
  /** The shared area that every WSL 2 distro sees as /mnt/wsl. */
  get sharedArea() {
    return join(this.runDir, 'wsl');
  }
  /** Exec records for the native `--exec` (fast-exec.ts); gone with the VM. */
  get fastExecDir() {
    return join(this.runDir, 'fast-exec');
  }
  distroRunDir(id: string) {
    return join(this.runDir, 'distros', id);
  }
  /** A running distro's init as the native `-l -v` reads it (list-record.ts); beside init.json. */
  initIdFile(id: string) {
    return join(this.distroRunDir(id), 'init.id');
  }
  /** The registry as the native `-l -v` reads it (list-record.ts). */
  get listRecord() {
    return join(this.root, 'registry.list');
  }
  distroLock(id: string) {
    return join(this.root, 'locks', `${id}.lock`);
  }
}
