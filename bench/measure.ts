/** One line of the benchmark table: Berth's figure against a baseline from the same run. */
export interface BenchRow {
  figure: string;
  berth: number;
  baseline: number;
  baselineName: string;
  /** The ratio Berth should stay within (ratio = berth / baseline), if one is set. */
  goal: number | undefined;
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
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['figure', 'Berth', 'baseline', 'ratio', 'goal'];
  const lines = rows.map((r) => [
    r.figure,
    r.berth.toFixed(1),
    `${r.baseline.toFixed(1)} (${r.baselineName})`,
    `${(r.berth / r.baseline).toFixed(2)}x`,
    r.goal === undefined ? '-' : `<= ${r.goal.toFixed(2)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}
