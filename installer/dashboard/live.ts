// The dashboard's one script: live status over Server-Sent Events. The page works without it.
interface LiveStatus {
  state: string;
  progress?: string;
  error?: string;
  enabled: boolean;
  paused?: boolean;
  integrations: Array<{ distro: string; state: string; detail?: string }>;
}

function pill(s: LiveStatus): { text: string; tone: string } {
  if (!s.enabled && s.state === 'stopped') return { text: 'Not enabled', tone: 'off' };
  if (s.state === 'starting') return { text: `Starting: ${s.progress ?? ''}`, tone: 'busy' };
  if (s.state === 'running') return s.paused ? { text: 'Paused (Resource Saver)', tone: 'off' } : { text: 'Running', tone: 'ok' };
  if (s.state === 'stopping') return { text: 'Stopping', tone: 'busy' };
  if (s.state === 'failed') return { text: `Failed: ${s.error ?? 'unknown'}`, tone: 'bad' };
  return { text: 'Stopped', tone: 'off' };
}

// A log page follows its stream; every other page, the status.
const log = document.getElementById('log');
if (log?.dataset.stream) {
  const lines = new EventSource(log.dataset.stream);
  lines.addEventListener('line', (e) => {
    log.append(`${JSON.parse((e as MessageEvent<string>).data) as string}\n`);
    log.scrollTop = log.scrollHeight;
  });
  lines.addEventListener('end', () => lines.close());
}

const events = document.getElementById('pill') ? new EventSource('/api/v1/events') : undefined;
events?.addEventListener('status', (e) => {
  const s = JSON.parse((e as MessageEvent<string>).data) as LiveStatus;
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
