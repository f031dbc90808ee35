import type { Clock } from '../../installer/backend/clock.js';

/** A clock the test moves by hand: timers fire only on advance(). */
export class ManualClock implements Clock {
  private time = 0;
  private timers: Array<{ at: number; fn: () => void }> = [];
  now() {
    return this.time;
  }
  after(ms: number, fn: () => void) {
    const t = { at: this.time + ms, fn };
    this.timers.push(t);
    return () => (this.timers = this.timers.filter((x) => x !== t));
  }
  /** The delays of the timers now waiting. */
  pending(): number[] {
    return this.timers.map((t) => t.at - this.time);
  }
  advance(ms: number) {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.fn();
  }
}
