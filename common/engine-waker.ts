import * as z from './zod.js';
import { httpJson, type HttpTarget } from './http-client.js';

/** The agent's answer to POST /touch: the engine runs (resumed, if Resource Saver had paused it). */
export const touchReplySchema = z.object({ resumed: z.literal(true) }).strict();

/**
 * The engine pauses only after at least 30 s without a touch, so a proxy that touched it
 * less than this long ago knows it runs: only the first request after a quiet spell waits.
 */
const TOUCH_EVERY_MS = 5000;

/**
 * What every Berth proxy calls before it opens a connection to dockerd: tells the agent a
 * request is coming (Resource Saver's idle clock) and, if the engine is paused, waits until
 * it runs again, so the request itself is answered as usual.
 */
export class EngineWaker {
  private last = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly agent: HttpTarget,
    private readonly now: () => number = Date.now,
  ) {}

  beforeRequest(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (this.now() - this.last < TOUCH_EVERY_MS) return Promise.resolve();
    this.inflight = httpJson(this.agent, { method: 'POST', path: '/touch', timeoutMs: 10_000 }, touchReplySchema)
      .then(
        () => void (this.last = this.now()),
        // No agent (stopped, or one without Resource Saver): the request goes on and gets dockerd's own answer.
        () => undefined,
      )
      .finally(() => (this.inflight = undefined));
    return this.inflight;
  }
}
