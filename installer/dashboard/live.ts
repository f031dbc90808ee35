// The dashboard's one script: live status over Server-Sent Events. The page works without it.
import { hasCharts, onUsage } from './charts.js';
import { notificationsFor, type Watched } from './notify.js';

interface LiveStatus extends Watched {
  progress?: string;
  enabled: boolean;
  integrations: Array<{ distro: string; state: string; detail?: string }>;
}

/** A notification in the page's corner, until dismissed (the newest four are kept). */
function notify(text: string): void {
  const box = document.getElementById('notifications');
  if (!box) return;
  const note = document.createElement('div');
  note.className = 'toast';
  const words = document.createElement('p');
  words.textContent = text;
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.textContent = 'Dismiss';
  dismiss.setAttribute('aria-label', `Dismiss: ${text}`);
  dismiss.addEventListener('click', () => note.remove());
  note.append(words, dismiss);
  box.append(note);
  while (box.children.length > 4) box.firstElementChild?.remove();
}
let seen: LiveStatus | undefined;

function pill(s: LiveStatus): { text: string; tone: string } {
  if (!s.enabled && s.state === 'stopped') return { text: 'Not enabled', tone: 'off' };
  if (s.state === 'starting') return { text: `Starting: ${s.progress ?? ''}`, tone: 'busy' };
  if (s.state === 'running') return s.paused ? { text: 'Paused (Resource Saver)', tone: 'off' } : { text: 'Running', tone: 'ok' };
  if (s.state === 'stopping') return { text: 'Stopping', tone: 'busy' };
  if (s.state === 'failed') return { text: `Failed: ${s.error ?? 'unknown'}`, tone: 'bad' };
  return { text: 'Stopped', tone: 'off' };
}

// A log follows its stream (on its own page, or a container's): a line per element, so a
// search can hide the others; the view keeps to the newest line while "Follow" is ticked.
const log = document.getElementById('log');
if (log?.dataset.stream) {
  const search = document.querySelector<HTMLInputElement>('[data-log-search]');
  const follow = document.querySelector<HTMLInputElement>('[data-log-follow]');
  for (const control of [search, follow]) control?.closest('label')?.removeAttribute('hidden');
  const shows = (line: HTMLElement) => !search?.value || (line.textContent ?? '').toLowerCase().includes(search.value.toLowerCase());
  const lines = new EventSource(log.dataset.stream);
  lines.addEventListener('line', (e) => {
    const line = document.createElement('span');
    line.textContent = `${JSON.parse((e as MessageEvent<string>).data) as string}\n`;
    line.hidden = !shows(line);
    log.append(line);
    if (follow?.checked !== false) log.scrollTop = log.scrollHeight;
  });
  lines.addEventListener('end', () => lines.close());
  search?.addEventListener('input', () => {
    for (const line of log.children) (line as HTMLElement).hidden = !shows(line as HTMLElement);
  });
}

// One stream per page: the status, and on a page with charts, their samples.
const events = document.getElementById('pill') ? new EventSource(`/api/v1/events${hasCharts() ? '?usage=1' : ''}`) : undefined;
events?.addEventListener('usage-history', (e) => onUsage('history', (e as MessageEvent<string>).data));
events?.addEventListener('usage', (e) => onUsage('sample', (e as MessageEvent<string>).data));
events?.addEventListener('status', (e) => {
  const s = JSON.parse((e as MessageEvent<string>).data) as LiveStatus;
  for (const text of notificationsFor(seen, s)) notify(text);
  seen = s;
  const out = document.getElementById('pill');
  const p = pill(s);
  if (out) {
    out.textContent = p.text;
    out.className = `pill ${p.tone}`;
  }
  const bar = document.getElementById('progress') as HTMLProgressElement | null;
  const pct = /(\d{1,3})%/.exec(s.progress ?? '');
  if (bar) {
    bar.hidden = s.state !== 'starting' || !pct;
    if (pct) bar.value = Number(pct[1]);
  }
  for (const i of s.integrations) {
    const cell = document.querySelector<HTMLElement>(`.state[data-distro="${CSS.escape(i.distro)}"]`);
    if (cell) cell.textContent = `${i.state}${i.detail ? `: ${i.detail}` : ''}`;
  }
});

// Tables that sort and filter (the page shows them as they came without script): a column's
// button sorts by it, again the other way; one filter box per page hides the rows without its text.
const sortable = [...document.querySelectorAll<HTMLTableElement>('table[data-sortable]')];
for (const table of sortable) {
  const body = table.tBodies[0];
  const heads = [...(table.tHead?.rows[0]?.cells ?? [])];
  heads.forEach((th, column) => {
    if (!body || th.hasAttribute('data-nosort')) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sort';
    // The arrow is for the eye; aria-sort on the header says it to a screen reader.
    const arrow = document.createElement('span');
    arrow.setAttribute('aria-hidden', 'true');
    button.append(th.textContent ?? '', arrow);
    th.replaceChildren(button);
    th.setAttribute('aria-sort', 'none');
    button.addEventListener('click', () => {
      const ascending = th.getAttribute('aria-sort') !== 'ascending';
      for (const h of heads) if (h.hasAttribute('aria-sort')) h.setAttribute('aria-sort', 'none');
      for (const a of table.querySelectorAll('button.sort span')) a.textContent = '';
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      arrow.textContent = ascending ? ' ▲' : ' ▼';
      const text = (row: HTMLTableRowElement) => row.cells[column]?.textContent?.trim() ?? '';
      const rows = [...body.rows].sort((a, b) => text(a).localeCompare(text(b), undefined, { numeric: true }) * (ascending ? 1 : -1));
      body.append(...rows);
    });
  });
}
if (sortable.length > 0) {
  const label = document.createElement('label');
  label.className = 'filter';
  label.textContent = 'Filter ';
  const input = document.createElement('input');
  input.type = 'search';
  label.append(input);
  sortable[0]!.closest('main > section')?.prepend(label);
  input.addEventListener('input', () => {
    const wanted = input.value.trim().toLowerCase();
    for (const table of sortable) for (const row of table.tBodies[0]?.rows ?? []) row.hidden = wanted !== '' && !(row.textContent ?? '').toLowerCase().includes(wanted);
  });
}

// A container's terminal: xterm.js (a chunk of its own) is loaded when the user opens it.
const terminal = document.getElementById('terminal');
const opener = terminal?.querySelector<HTMLButtonElement>('button.open');
if (terminal && opener) {
  opener.hidden = false;
  const state = terminal.querySelector<HTMLElement>('[role=status]');
  opener.addEventListener('click', () => {
    opener.disabled = true;
    void import('./terminal-client.js').then(
      (t) => t.openTerminal(terminal, (text) => state && (state.textContent = text)),
      (e: Error) => state && (state.textContent = `The terminal did not load: ${e.message}`),
    );
  });
}
