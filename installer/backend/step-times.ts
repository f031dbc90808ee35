import type { Clock } from './clock.js';

/** How long each step of a bring-up took: the log says where a slow start spent its time. */
export class StepTimes {
  private readonly began: number;
  private last: number;
  private readonly times: string[] = [];

  constructor(private readonly clock: Clock) {
    this.began = this.last = clock.now();
  }

  done(step: string): void {
    const now = this.clock.now();
    this.times.push(`${step} ${now - this.last}`);
    this.last = now;
  }

  /**
   * Runs the steps together, each timed on its own; settles once all have (a step that
   * failed does not leave the others running behind the bring-up), then throws the first
   * failure.
   */
  async atOnce(steps: Record<string, () => Promise<void>>): Promise<void> {
    const began = this.clock.now();
    const ran = await Promise.allSettled(
      Object.entries(steps).map(async ([step, run]) => {
        await run();
        return `${step} ${this.clock.now() - began}`;
      }),
    );
    const failure = ran.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
    this.done(`at once (${ran.map((r) => (r as PromiseFulfilledResult<string>).value).join(', ')})`);
  }

  summary(): string {
    return `in ${this.last - this.began} ms: ${this.times.join(', ')}`;
  }
}
