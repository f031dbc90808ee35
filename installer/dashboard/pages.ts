import { engineUsageSection } from './pages-charts.js';
import { diskUsageSection } from './pages-disk.js';
import type { BackendStatus } from '../backend/status-schema.js';
import type { Settings } from '../settings.js';
import type { DistroView } from './api.js';
import type { EngineModel } from './pages-engine.js';
import type { ContainerView } from './container-view.js';
import { esc, fieldError } from './html.js';

/** The status pill's words: Not enabled / Stopped / Starting (step) / Running / Stopping / Failed (reason). */
export function pillText(s: BackendStatus, enabled: boolean): { text: string; tone: string } {
  if (!enabled && s.state === 'stopped') return { text: 'Not enabled', tone: 'off' };
  switch (s.state) {
    case 'starting':
      return { text: `Starting: ${s.progress ?? ''}`, tone: 'busy' };
    case 'running':
      return s.paused ? { text: 'Paused (Resource Saver)', tone: 'off' } : { text: 'Running', tone: 'ok' };
    case 'stopping':
      return { text: 'Stopping', tone: 'busy' };
    case 'failed':
      return { text: `Failed: ${s.error ?? 'unknown'}`, tone: 'bad' };
    default:
      return { text: 'Stopped', tone: 'off' };
  }
}

/** A percentage in a progress step (`importing berth: 40%`), for the bar. */
export function progressPercent(progress: string | undefined): number | undefined {
  const m = /(\d{1,3})%/.exec(progress ?? '');
  return m ? Math.min(100, Number(m[1])) : undefined;
}

export interface PageModel {
  status: BackendStatus;
  settings: Settings;
  distros: DistroView[];
  /** The engine's containers, images, volumes (when it runs). */
  engine?: EngineModel;
  /** Containers: only the running ones (the page's "Running" view), or all. */
  runningOnly?: boolean;
  /** Field → message, from a refused form. */
  errors?: Record<string, string>;
  /** The Docker Engine page: the daemon.json text shown (the user's edit, when refused) and its issues. */
  engineConfig?: { text: string; issues?: Array<{ path: string; message: string }> };
  notice?: string;
  /** The one container a detail page shows. */
  container?: ContainerView;
  /** berth-data's disk image file. */
  dataDiskFile?: string;
  /** The run form as it was sent, when refused (to fix, not to type again). */
  runForm?: Record<string, string>;
}

/** "1.2 GiB of 62.9 GiB used (full)". */
function describeDisk(d: NonNullable<BackendStatus['disk']>): string {
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
  return `${gib(d.usedBytes)} of ${gib(d.sizeBytes)} used${d.state === 'full' ? ' (full)' : ''}`;
}

function general(m: PageModel): string {
  return `<section id="general" aria-labelledby="general-h"><h2 id="general-h">General</h2>
<form method="post" action="/ui/general">
  <input type="hidden" name="wslEngine" value="off">
  <label><input type="checkbox" name="wslEngine" value="on" ${m.settings.wslEngine ? 'checked' : ''}> Use the WSL 2 based engine</label>
  <button>Apply</button>
</form></section>`;
}

function integration(m: PageModel): string {
  const rows = m.distros
    .map((d) => {
      const state = d.disabled ? d.disabled : d.state ? `${d.state}${d.detail ? `: ${d.detail}` : ''}` : d.integrated ? 'on (starts with Berth)' : 'off';
      return `<li><label><input type="checkbox" name="distro" value="${esc(d.name)}" ${d.integrated ? 'checked' : ''} ${d.disabled ? 'disabled' : ''}> ${esc(d.name)}</label> <span class="state" data-distro="${esc(d.name)}">${esc(state)}</span></li>`;
    })
    .join('\n');
  return `<section id="integration" aria-labelledby="integration-h"><h2 id="integration-h">Resources → WSL integration</h2>
<form method="post" action="/ui/integration">
  <label><input type="checkbox" name="integrateWithDefaultDistro" value="on" ${m.settings.integrateWithDefaultDistro ? 'checked' : ''}> Enable integration with my default WSL distro</label>
  <ul>${rows || '<li>No WSL 2 distros found.</li>'}</ul>
  <button>Apply</button> <a href="/settings#integration">Refetch distros</a>
</form></section>`;
}

function proxies(m: PageModel): string {
  const p = m.settings.proxy;
  const radio = (mode: string, label: string) => `<label><input type="radio" name="mode" value="${mode}" ${p.mode === mode ? 'checked' : ''}> ${label}</label>`;
  return `<section id="proxies" aria-labelledby="proxies-h"><h2 id="proxies-h">Resources → Proxies</h2>
<form method="post" action="/ui/proxy">
  <fieldset><legend>Proxy</legend>${radio('none', 'No proxy')} ${radio('system', "The system's proxy")} ${radio('manual', 'Manual')} ${radio('pac', 'Automatic configuration script (PAC)')}</fieldset>
  <label>PAC file URL (http://, https:// or file://) <input name="pac" value="${esc(p.pac)}" aria-describedby="pac-error"></label>${fieldError(m.errors, 'pac')}
  <label>Web server (HTTP) <input name="http" value="${esc(p.http)}" aria-describedby="http-error"></label>${fieldError(m.errors, 'http')}
  <label>Secure web server (HTTPS) <input name="https" value="${esc(p.https)}" aria-describedby="https-error"></label>${fieldError(m.errors, 'https')}
  <label>Bypass for these hosts and domains <input name="exclude" value="${esc(p.exclude.join(','))}" aria-describedby="exclude-error"></label>${fieldError(m.errors, 'exclude')}
  ${fieldError(m.errors, 'mode')}
  <button>Apply</button>
</form>
<form method="post" action="/ui/certificates">
  <label><input type="checkbox" name="containersTrustHostCAs" value="on" ${m.settings.containersTrustHostCAs ? 'checked' : ''}> Containers and build steps trust the host's CAs (the host's trusted CAs and those in Berth's certs folder; for TLS-inspecting proxies)</label>
  <button>Apply</button>
</form></section>`;
}

function resources(m: PageModel): string {
  const value = (n: number | undefined) => (n === undefined ? '' : String(n));
  return `<section id="resources" aria-labelledby="resources-h"><h2 id="resources-h">Resources → Advanced</h2>
<p>Caps on the engine: dockerd, containerd and every container together, not your distros. Empty: no cap beyond the machine's. A change restarts a running engine.</p>
<form method="post" action="/ui/resources">
  <label>Memory limit (MiB) <input name="memoryMiB" inputmode="numeric" value="${esc(value(m.settings.memoryMiB))}" aria-describedby="memoryMiB-error"></label>${fieldError(m.errors, 'memoryMiB')}
  <label>CPU limit <input name="cpus" inputmode="decimal" value="${esc(value(m.settings.cpus))}" aria-describedby="cpus-error"></label>${fieldError(m.errors, 'cpus')}
  <label>Resource Saver: pause after (seconds, 0 = never) <input name="autoPauseTimeoutSeconds" inputmode="numeric" value="${esc(value(m.settings.autoPauseTimeoutSeconds))}" aria-describedby="autoPauseTimeoutSeconds-error"></label>${fieldError(m.errors, 'autoPauseTimeoutSeconds')}
  <button>Apply caps</button>
</form></section>
<section id="disk" aria-labelledby="disk-h"><h2 id="disk-h">Disk image location</h2>
<p>berth-data's disk: <code id="disk-file">${esc(m.dataDiskFile ?? 'unknown')}</code>${m.status.disk ? `, ${esc(describeDisk(m.status.disk))}` : ''}.</p>
<form method="post" action="/ui/data/move">
  <label>Move it to (a directory) <input name="dir" value="" aria-describedby="dir-error"></label>${fieldError(m.errors, 'dir')}
  <button>Move disk image</button>
</form></section>`;
}

function engineConfigSection(c: PageModel['engineConfig']): string {
  if (!c) return '';
  const issues = c.issues?.length
    ? `<ul id="config-errors" class="error" role="alert">${c.issues.map((i) => `<li><code>${esc(i.path)}</code>: ${esc(i.message)}</li>`).join('')}</ul><p class="error">Nothing was saved.</p>`
    : '';
  return `<section id="engine" aria-labelledby="engine-h"><h2 id="engine-h">Docker Engine</h2>
<form method="post" action="/ui/engine-config">
  <label for="config">daemon.json (your keys go over Berth's own; checked before it is saved)</label>
  <textarea id="config" name="config" rows="8" cols="70" spellcheck="false" aria-describedby="config-errors">${esc(c.text)}</textarea>${issues}
  <button>Apply &amp; restart</button> <small>The engine restarts only when a changed option needs it.</small>
</form></section>`;
}

/** The engine's own services, as the agent reports them, and its caps. */
function engineStatusSection(m: PageModel): string {
  const rows = m.status.services.map((x) => `<tr><td>${esc(x.name)}</td><td>${esc(x.state)}</td><td>${esc(x.pid ?? '')}</td><td>${esc(x.restarts)}</td></tr>`).join('');
  const caps = [m.settings.memoryMiB ? `memory ${m.settings.memoryMiB} MiB` : 'memory: no cap', m.settings.cpus ? `${m.settings.cpus} CPUs` : 'CPUs: no cap'].join(', ');
  return `<section id="engine-status" aria-labelledby="engine-status-h"><h2 id="engine-status-h">Status</h2>
<p>Docker API: <code>${esc(m.status.endpoint)}</code>. Caps: ${esc(caps)} (<a href="/settings#resources">change</a>).${m.status.disk ? ` berth-data: ${esc(describeDisk(m.status.disk))}.` : ''}</p>
<table><thead><tr><th>Service</th><th>State</th><th>PID</th><th>Restarts</th></tr></thead><tbody>${rows || '<tr><td colspan="4">The engine is not running.</td></tr>'}</tbody></table></section>`;
}

/** Settings: general, WSL integration, proxies, resources, disk. */
export function settingsPage(m: PageModel): string {
  return [general(m), integration(m), proxies(m), resources(m)].join('\n');
}

/** Engine: its status and daemon.json. */
export function enginePage(m: PageModel): string {
  return `${engineStatusSection(m)}\n${engineUsageSection()}\n${diskUsageSection(m.engine?.df, m.status.disk)}\n${engineConfigSection(m.engineConfig)}`;
}
