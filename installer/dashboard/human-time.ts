import { esc } from './html.js';

const UNITS: Array<[string, number]> = [
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
];

/** "just now", "3 minutes ago", "2 days ago": how long before `now` a moment was. */
export function ago(iso: string, now: number): string | undefined {
  const at = Date.parse(iso);
  if (Number.isNaN(at) || at <= 0) return undefined;
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  for (const [unit, size] of UNITS) {
    const n = Math.floor(seconds / size);
    if (n >= 1) return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  }
  return 'just now';
}

/** A moment as people read it, the exact time on hover (and for machines, in datetime). */
export function timeElement(iso: string, now = Date.now()): string {
  const text = ago(iso, now);
  return text ? `<time datetime="${esc(iso)}" title="${esc(iso)}">${text}</time>` : '';
}
