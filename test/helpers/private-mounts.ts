import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { parseMountinfo } from '../../common/mountinfo.js';
import { until } from './wsl-root.js';

/**
 * A mount namespace of a test's own (a slave of the machine's: it sees the machine's mounts,
 * and its own never reach the machine), held by a sleeping process. Files bound over in it
 * (a hosts file) are seen only by what runs there. Everything of one test world must run
 * there: nsfs files of mount namespaces, which the WSL host keeps, are not copied into a
 * namespace made later.
 */
export class PrivateMounts {
  private constructor(private readonly holder: ChildProcess) {}

  /**
   * `binds`: file on the machine → path it covers in the namespace. `cpu`: the CPU the
   * namespace is made on (the kernel numbers namespaces per CPU; see UtilityVm).
   */
  static async create(binds: Record<string, string>, cpu?: number): Promise<PrivateMounts> {
    const script = [...Object.keys(binds).map((_, i) => `mount --bind "$${2 * i + 1}" "$${2 * i + 2}"`), 'echo ready', 'exec sleep infinity'].join(' && ');
    const unshare = ['unshare', '-m', '--propagation', 'slave', 'sh', '-c', script, 'sh', ...Object.entries(binds).flat()];
    const [file, ...args] = cpu === undefined ? unshare : ['taskset', '--cpu-list', String(cpu), ...unshare];
    const holder = spawn(file!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    holder.stdout.on('data', (d: Buffer) => (out += d.toString()));
    if (!(await until(async () => out.includes('ready') || holder.exitCode !== null, 10_000, 20)) || holder.exitCode !== null) {
      throw new Error(`could not make a private mount namespace (unshare exit ${holder.exitCode})`);
    }
    return new PrivateMounts(holder);
  }

  /** The argv prefix that runs a command in the namespace. */
  get prefix(): string[] {
    return ['nsenter', `--mount=/proc/${this.holder.pid}/ns/mnt`, '--'];
  }

  async readFile(path: string): Promise<string> {
    return readFile(`/proc/${this.holder.pid}/root${path}`, 'utf8');
  }

  /** Mount points in the namespace under `dir`: what a test world must not leave there. */
  async mountsUnder(dir: string): Promise<string[]> {
    return parseMountinfo(await readFile(`/proc/${this.holder.pid}/mountinfo`, 'utf8'))
      .map((m) => m.mountPoint)
      .filter((m) => m === dir || m.startsWith(`${dir}/`));
  }

  async close(): Promise<void> {
    if (this.holder.exitCode !== null) return;
    const gone = new Promise((r) => this.holder.once('exit', r));
    this.holder.kill('SIGKILL');
    await gone;
  }
}
