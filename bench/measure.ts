/** One line of the benchmark table: Berth's figure against a baseline from the same run. */
export interface BenchRow {
  figure: string;
  berth: number;
  baseline: number;
  baselineName: string;
  /** The ratio (berth / baseline) Berth should stay within, if one is set. */
  goal: number | undefined;
  /** How the goal reads, when not as a ratio bound (e.g. a throughput floor). */
  goalLabel?: string;
  /** An absolute bound on Berth's figure instead of a ratio (e.g. memory). */
  limit?: number;
}

/** A goal on throughput (higher is better), for rows that time the same amount of work. */
export const throughputGoal = (floor: number) => ({ goal: 1 / floor, goalLabel: `>= ${floor.toFixed(2)}x throughput` });

/** The median: the middle value, or the mean of the two middle ones. */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error('bench: a median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median wall time in ms of `runs` calls of fn, each after an untimed setup(). */
export async function timeRuns(runs: number, setup: (() => Promise<void>) | undefined, fn: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (setup) await setup();
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

/** The figure of one run of one contender: a time in ms (or another measure), taken by the contender itself. */
export type Measurement = () => Promise<number>;

/**
 * Each contender's median over `runs` rounds, interleaved (A B C, A B C, …) so that drift of
 * the machine falls on all alike, after one round that is discarded (warm-up: caches, the
 * first connection, JIT). At least 5 rounds, so a median means something.
 */
export async function interleavedMedians<K extends string>(contenders: Record<K, Measurement>, runs = 5): Promise<Record<K, number>> {
  if (runs < 5) throw new Error('bench: at least 5 runs for a median');
  const names = Object.keys(contenders) as K[];
  const figures = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let round = -1; round < runs; round++) {
    for (const name of names) {
      const figure = await contenders[name]();
      if (round >= 0) figures[name].push(figure);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(figures[n])])) as Record<K, number>;
}

/** A timed call as a Measurement: the wall time of fn in ms, each after an untimed setup. */
export function timed(fn: () => Promise<unknown>, setup?: () => Promise<unknown>): Measurement {
  return async () => {
    if (setup) await setup();
    const start = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
}

function goalCells(r: BenchRow): [string, string] {
  if (r.limit !== undefined) return [`<= ${r.limit}`, r.berth <= r.limit ? 'yes' : 'NO'];
  if (r.goal === undefined) return ['-', '-'];
  return [r.goalLabel ?? `<= ${r.goal.toFixed(2)}x`, r.berth / r.baseline <= r.goal ? 'yes' : 'NO'];
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['figure', 'Berth', 'baseline', 'ratio', 'goal', 'met'];
  const lines = rows.map((r) => [r.figure, r.berth.toFixed(1), `${r.baseline.toFixed(1)} (${r.baselineName})`, `${(r.berth / r.baseline).toFixed(2)}x`, ...goalCells(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}
