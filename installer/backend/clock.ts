/** Time as the backend sees it: real in the product, driven by hand in unit tests. */
export interface Clock {
  now(): number;
  /** Runs `fn` after `ms`; the returned function cancels it. */
  after: (ms: number, fn: () => void) => () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/**
 * The timers one object owns, on a Clock: each can be cancelled, and all of them at once
 * when the object stops, so none fires after its stop.
 */
export class OwnedTimers {
  private readonly pending = new Set<() => void>();

  constructor(private readonly clock: Clock = systemClock) {}

  after(ms: number, fn: () => void): () => void {
    const cancel = this.clock.after(ms, () => {
      this.pending.delete(cancel);
      fn();
    });
    this.pending.add(cancel);
    return () => {
      cancel();
      this.pending.delete(cancel);
    };
  }

  cancelAll(): void {
    for (const cancel of this.pending) cancel();
    this.pending.clear();
  }
}
