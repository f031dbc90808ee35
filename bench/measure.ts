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

/** Median wall time in ms of `runs` calls of fn, each after an untimed setup(). */
export async function timeRuns(runs: number, setup: (() => Promise<void>) | undefined, fn: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (setup) await setup();
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function goalCells(r: BenchRow): [string, string] {
  if (r.limit !== undefined) return [`<= ${r.limit}`, r.berth <= r.limit ? 'yes' : 'NO'];
  if (r.goal === undefined) return ['-', '-'];
  return [r.goalLabel ?? `<= ${r.goal.toFixed(2)}x`, r.berth / r.baseline <= r.goal ? 'yes' : 'NO'];
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['figure', 'Berth', 'baseline', 'ratio', 'goal', 'met'];
  const lines = rows.map((r) => [
    r.figure,
    r.berth.toFixed(1),
    `${r.baseline.toFixed(1)} (${r.baselineName})`,
    `${(r.berth / r.baseline).toFixed(2)}x`,
    ...goalCells(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}
