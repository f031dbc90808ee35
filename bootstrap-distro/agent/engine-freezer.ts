import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineCgroupLayout, type CgroupLayout } from './engine-cgroup.js';
import { sleep } from '../../common/process.js';

/**
 * Pausing the engine: its cgroup frozen (v1's freezer hierarchy, or v2's cgroup.freeze),
 * after the page cache it holds is given back. The supervisor, which answers the requests
 * that resume it, runs in the same cgroup: before a freeze it moves itself to a sibling,
 * `<name>-agent`, and hands back whatever it forked since (a restarted dockerd).
 */
export class EngineFreezer {
  private constructor(
    private readonly layout: CgroupLayout,
    private readonly freezerDir: string,
    private readonly memoryDir: string | undefined,
  ) {}

  static async open(name: string): Promise<EngineFreezer> {
    const layout = await engineCgroupLayout(name);
    const freezer = layout.version === 2 ? layout.dirs[0] : layout.dirs.find((d) => d.controllers.includes('freezer'));
    if (!freezer) throw new Error('no freezer cgroup hierarchy is mounted; Resource Saver cannot pause the engine');
    const memory = layout.version === 2 ? layout.dirs[0]!.dir : layout.dirs.find((d) => d.controllers.includes('memory'))?.dir;
    return new EngineFreezer(layout, freezer.dir, memory);
  }

  /** The sibling cgroup the supervisor waits in while the engine is frozen. */
  get agentDir(): string {
    return `${this.freezerDir}-agent`;
  }

  /** Gives back the engine's page cache (what WSL's autoMemoryReclaim does for the whole VM). */
  async reclaimPageCache(): Promise<void> {
    if (!this.memoryDir) return;
    // v1 reclaims as much as it can (anonymous memory stays: there is no swap to put it in); v2 takes a byte count.
    if (this.layout.version === 1) await writeFile(join(this.memoryDir, 'memory.force_empty'), '0').catch(() => undefined);
    else await writeFile(join(this.memoryDir, 'memory.reclaim'), String(2 ** 40)).catch(() => undefined);
  }

  async freeze(): Promise<void> {
    await this.stepAside();
    await this.setFrozen(true);
  }

  async thaw(): Promise<void> {
    await this.setFrozen(false);
  }

  async frozen(): Promise<boolean> {
    if (this.layout.version === 2) return /^frozen 1$/m.test(await readFile(join(this.freezerDir, 'cgroup.events'), 'utf8'));
    return (await readFile(join(this.freezerDir, 'freezer.state'), 'utf8')).trim() === 'FROZEN';
  }

  private async stepAside(): Promise<void> {
    await mkdir(this.agentDir, { recursive: true, mode: 0o755 });
    await writeFile(join(this.agentDir, 'cgroup.procs'), String(process.pid));
    const procs = (await readFile(join(this.agentDir, 'cgroup.procs'), 'utf8')).split('\n').filter((p) => p && Number(p) !== process.pid);
    // Children forked after the step aside (a service restarted) belong to the engine.
    for (const pid of procs) await writeFile(join(this.freezerDir, 'cgroup.procs'), pid).catch(() => undefined);
  }

  private async setFrozen(frozen: boolean): Promise<void> {
    const [file, value] = this.layout.version === 2 ? ['cgroup.freeze', frozen ? '1' : '0'] : ['freezer.state', frozen ? 'FROZEN' : 'THAWED'];
    await writeFile(join(this.freezerDir, file), value);
    // v1 passes through FREEZING; a task in an uninterruptible sleep can hold it there a while.
    for (let i = 0; i < 200; i++) {
      if ((await this.frozen()) === frozen) return;
      await sleep(10);
    }
    if (frozen) {
      await this.setFrozen(false);
      throw new Error('the engine did not freeze within 2 s (a process is busy in the kernel); it keeps running');
    }
    throw new Error('the engine did not thaw within 2 s');
  }
}
