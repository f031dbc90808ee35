/** Where a published port leads inside the engine's network namespace. */
export interface ForwardTarget {
  ip: string;
  port: number;
}

/**
 * Where one published port leads, once known. A port is bound when it is claimed, before its
 * container runs; a connection that arrives before the target is known waits for it (up to a
 * deadline) instead of being reset, so a client that connects as soon as `docker run` returns
 * is answered even if the manager learns the container's address a moment later.
 */
export class TargetSlot {
  private target: ForwardTarget | undefined;
  private waiters = new Set<(t: ForwardTarget | undefined) => void>();
  private watchers = new Set<(t: ForwardTarget) => void>();

  constructor(initial?: ForwardTarget) {
    this.target = initial;
  }

  get(): ForwardTarget | undefined {
    return this.target;
  }

  set(target: ForwardTarget | undefined): void {
    this.target = target;
    if (!target) return;
    for (const wake of this.waiters) wake(target);
    this.waiters.clear();
    for (const watch of this.watchers) watch(target);
  }

  /** Calls `fn` with each target set from now on (a native relay is told each one); returns the undo. */
  watch(fn: (t: ForwardTarget) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /** The target, waiting up to `ms` for one; undefined if none came. */
  wait(ms: number): Promise<ForwardTarget | undefined> {
    if (this.target) return Promise.resolve(this.target);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve(undefined);
      }, ms);
      const done = (t: ForwardTarget | undefined) => {
        clearTimeout(timer);
        resolve(t);
      };
      this.waiters.add(done);
    });
  }

  /** Unpublished: whoever still waits is told there is no target. */
  close(): void {
    for (const wake of this.waiters) wake(undefined);
    this.waiters.clear();
    this.watchers.clear();
  }
}

/** How long a connection to a port whose container is starting waits for its address. */
export const TARGET_WAIT_MS = 5000;
