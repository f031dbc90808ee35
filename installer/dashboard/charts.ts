// The live charts (pages-charts.ts makes their frames): SVG lines drawn from the usage
// events of the page's one event stream. Hand-made SVG, not a charting library: a
// polyline per figure is all these charts are.
import { CONTAINER_WINDOW_MS, ENGINE_WINDOW_MS, KEEP_CONTAINER, KEEP_ENGINE } from './usage-window.js';

interface Point {
  t: number;
  [figure: string]: number;
}
interface History {
  engine: Point[];
  containers: Record<string, Point[]>;
}

const SVG = 'http://www.w3.org/2000/svg';
/** As much as the server keeps (usage.ts): 15 minutes of the engine, a minute of each container. */
const WINDOW_MS = { engine: ENGINE_WINDOW_MS, container: CONTAINER_WINDOW_MS };
const KEEP = { engine: KEEP_ENGINE, container: KEEP_CONTAINER };
const NAMES: Record<string, string> = { ioRead: 'read', ioWrite: 'written', netRx: 'in', netTx: 'out' };

const history: History = { engine: [], containers: {} };

function format(unit: string, value: number): string {
  if (unit === 'percent') return `${value.toFixed(value < 10 ? 1 : 0)}%`;
  const suffix = unit === 'rate' ? '/s' : '';
  if (value >= 2 ** 30) return `${(value / 2 ** 30).toFixed(2)} GiB${suffix}`;
  if (value >= 2 ** 20) return `${(value / 2 ** 20).toFixed(1)} MiB${suffix}`;
  return `${(value / 2 ** 10).toFixed(1)} KiB${suffix}`;
}

function draw(chart: HTMLElement): void {
  const source = chart.dataset.chart!;
  const keys = (chart.dataset.keys ?? '').split(',');
  const unit = chart.dataset.unit ?? 'bytes';
  const kind = source === 'engine' ? 'engine' : 'container';
  const points = kind === 'engine' ? history.engine : (history.containers[source] ?? []);
  const svg = chart.querySelector('svg')!;
  const out = chart.querySelector('output')!;
  const last = points.at(-1);
  if (!last) {
    svg.replaceChildren();
    out.textContent = 'measuring…';
    return;
  }
  const top = Math.max(unit === 'percent' ? 100 : 1, ...points.flatMap((p) => keys.map((k) => p[k] ?? 0))) * 1.05;
  const now = last.t;
  const lines = keys.map((key, i) => {
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('class', `line s${i}`);
    line.setAttribute('points', points.map((p) => `${(300 - ((now - p.t) / WINDOW_MS[kind]) * 300).toFixed(1)},${(60 - ((p[key] ?? 0) / top) * 60).toFixed(1)}`).join(' '));
    return line;
  });
  svg.replaceChildren(...lines);
  const text = keys.map((k) => `${keys.length > 1 ? `${NAMES[k] ?? k} ` : ''}${format(unit, last[k] ?? 0)}`).join(', ');
  out.textContent = text;
  svg.setAttribute('aria-label', `${chart.title || chart.querySelector('figcaption')?.firstChild?.textContent?.replace(/:\s*$/, '') || ''}, now ${text}`);
  // The first figure's recent values, as numbers, for whoever reads the page (the browser test among them).
  chart.dataset.values = points.map((p) => Math.round(p[keys[0]!] ?? 0)).join(' ');
}

export function hasCharts(): boolean {
  return document.querySelector('[data-chart]') !== null;
}

/** The history the stream starts with, or one new sample. */
export function onUsage(kind: 'history' | 'sample', data: string): void {
  if (kind === 'history') Object.assign(history, JSON.parse(data) as History);
  else {
    const u = JSON.parse(data) as { engine?: Point; containers: Record<string, Point> };
    if (u.engine) history.engine = [...history.engine, u.engine].slice(-KEEP.engine);
    for (const id of Object.keys(history.containers)) if (!u.containers[id]) delete history.containers[id];
    for (const [id, p] of Object.entries(u.containers)) history.containers[id] = [...(history.containers[id] ?? []), p].slice(-KEEP.container);
  }
  for (const chart of document.querySelectorAll<HTMLElement>('[data-chart]')) draw(chart);
}
