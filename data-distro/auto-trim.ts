import { followEvents, type EventFollower } from '../common/docker-api.js';
import type { HttpTarget } from '../common/http-client.js';

/** The engine's events after which berth-data holds less: something was deleted. */
export const FREEING_EVENTS = { type: ['image', 'container', 'volume', 'builder'], event: ['delete', 'destroy', 'prune'] };

/** Waits this long after the last such event, so a prune of a hundred images trims once. */
export const TRIM_QUIET_MS = 2000;

export interface AutoTrimDeps {
  daemon: HttpTarget;
  /** Trims berth-data's file system; resolves with what it reports. */
  trim(): Promise<string>;
  log(line: string): void;
  after(ms: number, fn: () => void): () => void;
}

/**
 * Gives berth-data's freed blocks back to the host by itself: follows the engine's events
 * and, once deletions have settled, trims the disk (its sparse image then shrinks).
 */
export class AutoTrim {
  private follower: EventFollower | undefined;
  private cancel: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private pending = false;

  constructor(private readonly deps: AutoTrimDeps) {}

  start(): void {
    // Each (re)connection trims once too: deletions in a dockerd the stream never reached (one
    // that came and went while the follower waited out its backoff) left no event to replay.
    this.follower ??= followEvents(this.deps.daemon, FREEING_EVENTS, { onEvent: () => this.schedule(), onConnected: () => this.schedule() });
  }

  stop(): void {
    this.follower?.stop();
    this.follower = undefined;
    this.cancel?.();
    this.cancel = undefined;
  }

  /** Trims once no freeing event came for TRIM_QUIET_MS (again after a running trim, if one came during it). */
  schedule(): void {
    this.cancel?.();
    this.cancel = this.deps.after(TRIM_QUIET_MS, () => {
      this.cancel = undefined;
      if (this.running) {
        this.pending = true;
        return;
      }
      this.running = this.runTrim().finally(() => {
        this.running = undefined;
        if (this.pending) {
          this.pending = false;
          this.schedule();
        }
      });
    });
  }

  private async runTrim(): Promise<void> {
    try {
      this.deps.log(`space freed in berth-data: ${await this.deps.trim()}`);
    } catch (e) {
      this.deps.log(`trimming berth-data's disk failed: ${(e as Error).message}`);
    }
  }
}
