import { esc } from './html.js';

/** How a chart's figures read: CPU in % of a core, memory in bytes, I/O and network in bytes per second. */
export type ChartUnit = 'percent' | 'bytes' | 'rate';

/**
 * A live chart's frame: live.ts draws its lines from the usage events. `source` is `engine`
 * or a container's short id; `keys` are the figures it draws (one line each).
 */
export function chartFigure(o: { source: string; keys: string[]; unit: ChartUnit; caption: string; spark?: boolean }): string {
  const attrs = `data-chart="${esc(o.source)}" data-keys="${esc(o.keys.join(','))}" data-unit="${o.unit}"`;
  const svg = `<svg viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label="${esc(o.caption)}"></svg>`;
  if (o.spark) return `<span class="spark" ${attrs} title="${esc(o.caption)}">${svg}<output></output></span>`;
  return `<figure class="chart" ${attrs}><figcaption>${esc(o.caption)}: <output>waiting for a sample</output></figcaption>${svg}</figure>`;
}

/** The Engine page's charts: the last 15 minutes of the engine's cgroup, and of its containers' network. */
export function engineUsageSection(): string {
  const figures = [
    chartFigure({ source: 'engine', keys: ['cpu'], unit: 'percent', caption: 'CPU' }),
    chartFigure({ source: 'engine', keys: ['memory'], unit: 'bytes', caption: 'Memory' }),
    chartFigure({ source: 'engine', keys: ['ioRead', 'ioWrite'], unit: 'rate', caption: 'Disk I/O' }),
    chartFigure({ source: 'engine', keys: ['netRx', 'netTx'], unit: 'rate', caption: 'Network' }),
  ];
  return `<section id="usage" aria-labelledby="usage-h"><h2 id="usage-h">Use, last 15 minutes</h2><div class="charts">${figures.join('')}</div>
<noscript><p>The charts need script.</p></noscript></section>`;
}

/** A container's CPU and memory over its last minute: sparklines in the list, charts on its page. */
export function containerUsage(id: string, spark: boolean): string {
  return chartFigure({ source: id, keys: ['cpu'], unit: 'percent', caption: 'CPU', spark }) + chartFigure({ source: id, keys: ['memory'], unit: 'bytes', caption: 'Memory', spark });
}
