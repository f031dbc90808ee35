import * as z from '../../common/zod.js';
import { httpJson, type HttpTarget } from '../../common/http-client.js';
import type { EngineFreezer } from './engine-freezer.js';

/** How often the saver looks at the engine. */
const CHECK_MS = 5000;

export interface ResourceSaverDeps {
  /** Seconds with no API request and no running container before the engine pauses. */
  timeoutSeconds: number;
  freezer: Pick<EngineFreezer, 'freeze' | 'thaw' | 'reclaimPageCache'>;
  daemon: HttpTarget;
  log(line: string): void;
  now(): number;
}

/**
 * Docker Desktop's Resource Saver: the engine pauses after a quiet spell and resumes on the
 * next request. Requests reach the engine through Berth's proxies, which `touch` the saver
 * (at most every few seconds, and always first after a quiet spell), so the request that
 * resumes the engine is answered normally, only later.
 */
export class ResourceSaver {
  private lastActivity: number;
  private paused = false;
  private timer: NodeJS.Timeout | undefined;
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ResourceSaverDeps) {
    this.lastActivity = deps.now();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), CHECK_MS);
  }

  /** Ends the saver with the engine thawed (a stop must reach dockerd). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.touch();
  }

  /** A request is coming: note it, and resume the engine first if it is paused. */
  touch(): Promise<void> {
    this.lastActivity = this.deps.now();
    return this.serial(async () => {
      if (!this.paused) return;
      await this.deps.freezer.thaw();
      this.paused = false;
      this.deps.log(`berth-agent: resumed the engine (a request came)`);
    });
  }

  /** Pauses the engine when it has been quiet long enough. */
  async check(): Promise<void> {
    if (this.paused || this.deps.now() - this.lastActivity < this.deps.timeoutSeconds * 1000) return;
    const running = await httpJson(this.deps.daemon, { path: '/containers/json', timeoutMs: 5000 }, z.array(z.unknown())).catch(() => undefined);
    if (running === undefined) return; // the engine did not answer: not idle, or not up
    if (running.length > 0) {
      this.lastActivity = this.deps.now();
      return;
    }
    await this.serial(async () => {
      // A request may have come while the containers were listed.
      if (this.paused || this.deps.now() - this.lastActivity < this.deps.timeoutSeconds * 1000) return;
      await this.deps.freezer.reclaimPageCache();
      try {
        await this.deps.freezer.freeze();
      } catch (e) {
        this.deps.log(`berth-agent: Resource Saver could not pause the engine: ${(e as Error).message}`);
        return;
      }
      this.paused = true;
      this.deps.log(`berth-agent: paused the engine (Resource Saver: no request and no running container for ${this.deps.timeoutSeconds}s; the next request resumes it)`);
    });
  }

  /** Freeze and thaw never overlap. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.transition.then(fn, fn);
    this.transition = next.catch(() => undefined);
    return next;
  }
}
