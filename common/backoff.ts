/** How the wait between attempts grows: initialMs × factor^failures, at most maxMs. */
export interface BackoffPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** A run at least this long counts as healthy: the next failure waits initialMs again. */
  healthyAfterMs?: number;
}

/**
 * Berth's one retry policy: every restart, reconnect and retry loop waits through one of
 * these, with one of the named policies below, so that the figures live in one place.
 */
export class Backoff {
  /** The backend bringing the engine up after a failed start: 1 s, 3 s, 9 s, 27 s, then each minute. */
  static readonly ENGINE_START: BackoffPolicy = { initialMs: 1000, factor: 3, maxMs: 60_000 };
  /** A LinuxKit service that crashed: 0.1 s doubling to 10 s; healthy after 10 s up. */
  static readonly SERVICE_RESTART: BackoffPolicy = { initialMs: 100, factor: 2, maxMs: 10_000, healthyAfterMs: 10_000 };
  /** A helper process of the backend (the engine link, a distro's proxy): 0.1 s to 5 s; healthy after 30 s up. */
  static readonly HELPER_RESTART: BackoffPolicy = { initialMs: 100, factor: 4, maxMs: 5000, healthyAfterMs: 30_000 };
  /** A stream to reopen (the daemon's events after dockerd restarted): 0.25 s to 5 s. */
  static readonly RECONNECT: BackoffPolicy = { initialMs: 250, factor: 2, maxMs: 5000 };
  /** A distro whose init ended while a command attached to it: every 0.25 s. */
  static readonly REATTACH: BackoffPolicy = { initialMs: 250, factor: 1, maxMs: 250 };

  private count = 0;

  constructor(readonly policy: BackoffPolicy) {}

  /** Failures since the last success. */
  get failures(): number {
    return this.count;
  }

  /** Counts a failure and gives the wait before the next attempt. */
  next(): number {
    const delay = Math.min(this.policy.initialMs * this.policy.factor ** this.count, this.policy.maxMs);
    this.count++;
    return delay;
  }

  /** The thing works again: the next failure starts from the first delay. */
  succeeded(): void {
    this.count = 0;
  }

  /** A run of `ranMs` ended: a healthy one resets the count (see healthyAfterMs). */
  ran(ranMs: number): void {
    if (this.policy.healthyAfterMs !== undefined && ranMs >= this.policy.healthyAfterMs) this.count = 0;
  }
}
