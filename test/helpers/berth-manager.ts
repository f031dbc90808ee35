import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildImages } from '../../installer/images/build.js';
import { REPO, TestWslRoot } from './wsl-root.js';

export { until } from './wsl-root.js';

export const BERTH = join(REPO, 'bin/berth');

/** A Linux WSL host plus a Berth home and a docker config of its own, all under one temp root. */
export class TestBerth extends TestWslRoot {
  constructor(extraEnv: Record<string, string> = {}) {
    super({ BERTH_WSL_IDLE_TIMEOUT: '15', ...extraEnv });
    this.env.BERTH_HOME = join(this.root, 'home');
    this.env.DOCKER_CONFIG = join(this.root, 'docker-config');
    mkdirSync(this.env.DOCKER_CONFIG, { recursive: true });
  }

  async berth(args: string[], env: Record<string, string> = {}) {
    const r = await this.run(BERTH, args, { reject: false, env: { ...this.env, ...env }, stdin: 'ignore' });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  async status(): Promise<{
    state: string;
    endpoint: string;
    services: Array<{ name: string; state: string; pid: number | null; restarts: number }>;
    integrations: Array<{ distro: string; state: string }>;
    error?: string;
    events?: string[];
  }> {
    return JSON.parse((await this.berth(['status', '--json'])).stdout);
  }

  docker(args: string[]) {
    return execa('docker', ['--context', 'berth', ...args], { reject: false, env: { ...process.env, DOCKER_CONFIG: this.env.DOCKER_CONFIG! } });
  }

  /** Builds the images into the root, enables Berth with them (as an installer's would be) and loads busybox. */
  async enableWithImages(): Promise<void> {
    this.env.BERTH_IMAGES = join(this.root, 'images');
    await buildImages(this.env.BERTH_IMAGES);
    const r = await this.berth(['enable']);
    if (r.exitCode !== 0) throw new Error(`berth enable: ${r.stderr}`);
    await this.importBusybox();
  }

  /** A shell command line in a distro, as `me` unless said otherwise. */
  sh(distro: string, script: string, user = 'me') {
    return this.wsl(['-d', distro, '-u', user, '--exec', 'sh', '-c', script]);
  }

  async importBusybox(): Promise<void> {
    const dir = join(this.root, 'bb-image');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    await execa('cp', ['/bin/busybox', join(dir, 'bin/busybox')]);
    const applets = (await execa('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
    for (const a of applets) await execa('ln', ['-sf', 'busybox', join(dir, 'bin', a)]);
    const tar = await execa('tar', ['-C', dir, '-c', '.'], { encoding: 'buffer' });
    const r = await execa('docker', ['--context', 'berth', 'import', '-', 'busybox:latest'], {
      input: tar.stdout,
      reject: false,
      env: { ...process.env, DOCKER_CONFIG: this.env.DOCKER_CONFIG! },
    });
    if (r.exitCode !== 0) throw new Error(`docker import: ${r.stderr}`);
  }

  override async cleanup(): Promise<void> {
    await this.berth(['stop']);
    await super.cleanup();
  }
}
