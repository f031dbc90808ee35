import type { Clock } from './clock.js';

export type BackendState = 'starting' | 'running' | 'failed' | 'stopping' | 'stopped';

/** The longest a status request waits for a change (the CLI asks again after it). */
export const STATUS_CHANGE_MAX_WAIT_MS = 5000;

/**
 * The backend's state and its start's current step, and whoever waits for either to change:
 * `berth start` follows a start with one request a step (GET /status/change), not one
 * every few milliseconds, and hears of each step as it happens.
 */
export class BackendPhase {
  private stateNow: BackendState = 'stopped';
  private progressNow = 'stopped';
  private readonly waiters = new Set<() => void>();

  constructor(private readonly clock: Clock) {}

  get state(): BackendState {
    return this.stateNow;
  }

  set state(state: BackendState) {
    this.stateNow = state;
    this.changed();
  }

  get progress(): string {
    return this.progressNow;
  }

  set progress(progress: string) {
    this.progressNow = progress;
    this.changed();
  }

  /** A state whose step is its name (stopping, stopped, running): both change at once, for one wake-up of the waiters. */
  enter(state: BackendState): void {
    this.stateNow = state;
    this.progressNow = state;
    this.changed();
  }

  /** Resolves once the state or the progress is not what the caller `seen`, or after `waitMs` (at most STATUS_CHANGE_MAX_WAIT_MS). */
  whenChanged(seen: { state: string; progress: string }, waitMs: number): Promise<void> {
    if (this.stateNow !== seen.state || this.progressNow !== seen.progress) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        cancel();
        this.waiters.delete(wake);
        resolve();
      };
      const cancel = this.clock.after(Math.min(Math.max(waitMs, 0), STATUS_CHANGE_MAX_WAIT_MS), wake);
      this.waiters.add(wake);
    });
  }

  private changed(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
