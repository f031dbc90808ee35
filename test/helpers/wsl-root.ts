import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Options } from 'execa';
import { parseMountinfo } from '../../common/mountinfo.js';

export interface WslCallOptions {
  env?: Record<string, string>;
  input?: string;
  inputFile?: string;
  /** The caller's working directory (a drive path becomes the distro's /mnt/<letter> path). */
  cwd?: string;
}
import { CommandWslHost } from '../../wsl-host/command-host.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const BERTH_WSL = join(REPO, 'bin/berth-wsl');

export const isRoot = process.getuid?.() === 0;

/** Integration tests need root for namespaces and mounts; anywhere else they say so and skip. */
export function requireRoot(suite: string): boolean {
  if (!isRoot) console.warn(`[skip] ${suite}: needs root (namespaces, mounts, loop devices); run the tests as root`);
  return isRoot;
}

/**
 * A fresh Linux WSL host under its own temporary root, so test runs never collide.
 * cleanup() shuts it down and checks that nothing was left mounted.
 */
export class TestWslRoot {
  readonly root: string;
  readonly env: Record<string, string>;
  /** Runs this world's commands in another mount namespace (see PrivateMounts). */
  prefix: string[] = [];

  constructor(extraEnv: Record<string, string> = {}) {
    this.root = mkdtempSync(join(tmpdir(), 'berth-test-wsl-'));
    this.env = { BERTH_WSL_ROOT: this.root, WSL_UTF8: '1', BERTH_WSL_IDLE_TIMEOUT: '0', ...extraEnv };
  }

  /** Runs bin/berth-wsl with this root; never rejects, so tests can assert on failures. */
  async wsl(args: string[], options: WslCallOptions = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const r = await this.run(BERTH_WSL, args, {
      reject: false,
      env: { ...this.env, ...options.env },
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.inputFile !== undefined ? { inputFile: options.inputFile } : {}),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** execa, through this world's prefix. */
  run<O extends Options>(file: string, args: string[], options: O) {
    const [head, ...rest] = [...this.prefix, file, ...args];
    return execa(head!, rest, options);
  }

  /** The raw bytes berth-wsl writes to stdout (to check its encoding). */
  async wslBytes(args: string[], env: Record<string, string> = {}): Promise<Buffer> {
    const r = await execa(BERTH_WSL, args, { reject: false, encoding: 'buffer', env: { ...this.env, ...env } });
    return Buffer.from(r.stdout);
  }

  host(options: Partial<ConstructorParameters<typeof CommandWslHost>[0]> = {}): CommandWslHost {
    return new CommandWslHost({ command: BERTH_WSL, env: this.env, ...options });
  }

  mountsUnderRoot(): string[] {
    return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))
      .map((m) => m.mountPoint)
      .filter((m) => m.startsWith(this.root));
  }

  /** Loop devices whose backing file lies under this root (a disk-image distro's disk). */
  loopsUnderRoot(): string[] {
    const r = execFileSync('losetup', ['-l', '-n', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8' });
    return r
      .split('\n')
      .filter((l) => l.includes(` ${this.root}/`))
      .map((l) => l.trim());
  }

  async cleanup(): Promise<void> {
    await this.wsl(['--shutdown']);
    const loops = this.loopsUnderRoot();
    if (loops.length > 0) throw new Error(`--shutdown left loop devices behind: ${loops.join(', ')}`);
    const left = this.mountsUnderRoot();
    if (left.length === 0) rmSync(this.root, { recursive: true, force: true });
    if (left.length > 0) throw new Error(`--shutdown left mounts behind: ${left.join(', ')}`);
  }
}

/** Polls cond until it holds or the time is up; returns whether it held. */
export async function until(cond: () => Promise<boolean>, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return false;
}
