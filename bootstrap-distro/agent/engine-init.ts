import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import * as z from '../../common/zod.js';

/**
 * What berth-engine-init (bootstrap-distro/engine-init/) tells the supervisor, one line each:
 * the root assembled or not, each onboot action's exit, each service started, and the exits
 * of the services it started. Every line is checked; one that is not understood is logged.
 */
const name = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/);
const count = z.coerce.number().int().min(0);
const eventSchema = z.union([
  z.tuple([z.literal('root'), z.literal('ok')]),
  z.tuple([z.literal('root'), z.literal('failed')]).rest(z.string()),
  z.tuple([z.literal('onboot'), name, count, count]),
  z.tuple([z.literal('started'), name, count]),
  z.tuple([z.literal('done')]),
  z.tuple([z.literal('exited'), name, count, z.union([count, z.literal('-')]), z.union([z.string().regex(/^SIG[A-Z0-9]+$/), z.literal('-')])]),
]);

export interface InitExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A service process berth-engine-init started: the supervisor stops it and hears of its exit. */
export interface AdoptedProcess {
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<InitExit>;
}

/** A value that arrives once, perhaps before anyone asks. */
class Slot<T> {
  readonly promise: Promise<T>;
  resolve!: (v: T) => void;
  constructor() {
    this.promise = new Promise<T>((r) => (this.resolve = r));
  }
}

export class EngineInit {
  private readonly rootSlot = new Slot<string | undefined>();
  private readonly onboots = new Map<string, Slot<{ exitCode: number; ms: number }>>();
  private readonly starts = new Map<string, Slot<number>>();
  private readonly exits = new Map<number, Slot<InitExit>>();
  private readonly planDone = new Slot<undefined>();
  private readonly rootEnded: Promise<string>;
  /** Resolves once nothing more will start: the plan ran, stopped at a failure, or berth-engine-init ended. */
  private readonly planEnded: Promise<undefined>;

  /** `events`: berth-engine-init's event pipe (see readableFd). */
  constructor(events: Readable, log: (line: string) => void) {
    const lines = createInterface({ input: events });
    lines.on('line', (line) => {
      const parsed = eventSchema.safeParse(line.split(' '));
      if (!parsed.success) return log(`berth-agent: berth-engine-init said something not understood: ${line.slice(0, 200)}`);
      const e = parsed.data;
      if (e[0] === 'root') this.rootSlot.resolve(e[1] === 'ok' ? undefined : e.slice(2).join(' '));
      else if (e[0] === 'onboot') this.slot(this.onboots, e[1]).resolve({ exitCode: e[2], ms: e[3] });
      else if (e[0] === 'started') this.slot(this.starts, e[1]).resolve(e[2]);
      else if (e[0] === 'done') this.planDone.resolve(undefined);
      else this.slot(this.exits, e[2]).resolve({ code: e[3] === '-' ? null : e[3], signal: e[4] === '-' ? null : (e[4] as NodeJS.Signals) });
    });
    const closed = new Promise<undefined>((resolve) => lines.once('close', () => resolve(undefined)));
    this.planEnded = Promise.race([this.planDone.promise, closed]);
    this.rootEnded = closed.then(() => 'berth-engine-init ended first');
  }

  private slot<K, T>(map: Map<K, Slot<T>>, key: K): Slot<T> {
    let s = map.get(key);
    if (!s) map.set(key, (s = new Slot<T>()));
    return s;
  }

  /** Resolves once the root is assembled; rejects with why it could not be. */
  async root(): Promise<void> {
    const why = await Promise.race([this.rootSlot.promise, this.rootEnded]);
    if (why !== undefined) throw new Error(`the LinuxKit root could not be assembled: ${why}`);
  }

  /** An onboot action's result, or undefined if the plan ended before it ran. */
  onboot(action: string): Promise<{ exitCode: number; ms: number } | undefined> {
    // The step's own line comes before "done": when both are in, the step wins the race.
    return Promise.race([this.slot(this.onboots, action).promise, this.planEnded]);
  }

  /** The service as berth-engine-init started it, or undefined if the plan ended before. */
  async started(service: string): Promise<AdoptedProcess | undefined> {
    const pid = await Promise.race([this.slot(this.starts, service).promise, this.planEnded]);
    if (pid === undefined) return undefined;
    return {
      pid,
      kill: (signal) => {
        try {
          process.kill(pid, signal);
        } catch (e) {
          // Gone already: its exit is on its way.
          if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
        }
      },
      exited: this.slot(this.exits, pid).promise,
    };
  }
}

/** A descriptor berth-engine-init handed down (the event pipe, a log stream) as a readable stream. */
export function readableFd(fd: number): Socket {
  return new Socket({ fd, readable: true, writable: false });
}
