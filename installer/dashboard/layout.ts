import { enginePage, pillText, progressPercent, settingsPage, type PageModel } from './pages.js';
import { imagesSection, troubleshootSection, volumesSection } from './pages-engine.js';
import { runSection } from './pages-run.js';
import { containerDetail, containersSection } from './pages-containers.js';
import { esc, mib } from './html.js';

/** The dashboard's pages, in the sidebar's order: each has its own URL, /NAME. */
export const PAGES = [
  { name: 'containers', title: 'Containers' },
  { name: 'images', title: 'Images' },
  { name: 'volumes', title: 'Volumes' },
  { name: 'engine', title: 'Engine' },
  { name: 'settings', title: 'Settings' },
  { name: 'troubleshoot', title: 'Troubleshoot' },
] as const;
export type PageName = (typeof PAGES)[number]['name'];

export function isPageName(name: string): name is PageName {
  return PAGES.some((p) => p.name === name);
}

/**
 * What a form did, by the key its redirect carries (`?done=KEY`): fixed words, so nothing
 * from a URL is ever shown as the page's own message.
 */
const NOTICES: Record<string, string> = {
  'engine-start': 'Starting the engine.',
  'engine-stop': 'The engine was stopped.',
  'engine-restart': 'The engine was restarted.',
  general: 'General settings saved.',
  integration: "WSL integration saved: the distros' proxies start or stop now.",
  proxy: 'Proxy settings saved; new connections use them.',
  certificates: 'Saved which CAs containers and build steps trust.',
  resources: 'Resource limits saved (a running engine restarts when they changed).',
  'engine-config': 'daemon.json saved and applied.',
  'containers-start': 'Container started.',
  'containers-stop': 'Container stopped.',
  'containers-restart': 'Container restarted.',
  'containers-delete': 'Container deleted.',
  'containers-run': 'Container created from the image and started.',
  'images-delete': 'Image deleted.',
  'images-prune': 'Unused images pruned.',
  'volumes-delete': 'Volume deleted.',
  'volumes-prune': 'Unused volumes pruned.',
  'containers-prune': 'Stopped containers deleted.',
  'build-prune': 'Unused build cache pruned.',
  'projects-start': 'Compose project started.',
  'projects-stop': 'Compose project stopped.',
  'projects-delete': 'Compose project deleted (its containers; volumes and images are kept).',
  purge: 'Purged: every image, container and volume was deleted; the settings are kept.',
  factory: 'Reset to factory defaults: the data was deleted, every setting is back to its default, and the engine is off.',
};

/** The notice of a `?done=` key, if it is one, with what a prune freed (`&freed=BYTES`, digits only). */
export function noticeFor(done: string | null, freed: string | null = null): string | undefined {
  if (!done || !Object.hasOwn(NOTICES, done)) return undefined;
  return freed && /^\d{1,15}$/.test(freed) ? `${NOTICES[done]} ${mib(freed)} freed.` : NOTICES[done];
}

/** Where a form's result is shown: its page, with the notice key (and what it freed) and the section. */
export function resultUrl(page: PageName, done: string, section = '', freedBytes?: number): string {
  const freed = freedBytes === undefined ? '' : `&freed=${Math.max(0, Math.round(freedBytes))}`;
  return `/${page}?done=${encodeURIComponent(done)}${freed}${section ? `#${section}` : ''}`;
}

/** The status pill and Start/Stop/Restart, on every page; the buttons come back to it. */
function header(m: PageModel, page: PageName): string {
  const pill = pillText(m.status, m.settings.wslEngine);
  const pct = progressPercent(m.status.progress);
  const button = (verb: string, label: string) => `<form method="post" action="/ui/engine/${verb}"><input type="hidden" name="from" value="${page}"><button>${label}</button></form>`;
  return `<header>
  <a class="brand" href="/">Berth</a>
  <output id="pill" class="pill ${pill.tone}" aria-live="polite">${esc(pill.text)}</output>
  <progress id="progress" max="100" ${pct === undefined || m.status.state !== 'starting' ? 'hidden' : `value="${pct}"`} aria-label="progress"></progress>
  <span class="actions">${button('start', 'Start')}${button('stop', 'Stop')}${button('restart', 'Restart')}</span>
</header>`;
}

function sidebar(page?: PageName): string {
  const links = PAGES.map((p) => `<li><a href="/${p.name}"${p.name === page ? ' aria-current="page"' : ''}>${p.title}</a></li>`).join('');
  return `<nav aria-label="Pages"><ul>${links}</ul></nav>`;
}

/** Every page's head: its title, the stylesheet and the live script. */
function documentHead(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — Berth</title><meta name="viewport" content="width=device-width">
<meta name="color-scheme" content="light dark">
<link rel="stylesheet" href="/assets/style.css"><script type="module" src="/assets/live.js"></script></head>`;
}

/** The sections of one page. */
function pageBody(m: PageModel, page: PageName): string {
  const engine = m.engine ?? {};
  switch (page) {
    case 'containers':
      return m.container ? containerDetail(m.container) : containersSection(engine.containers, Boolean(m.runningOnly));
    case 'images':
      return imagesSection(engine) + runSection(engine.images, m.errors, m.runForm);
    case 'volumes':
      return volumesSection(engine);
    case 'engine':
      return enginePage(m);
    case 'settings':
      return settingsPage(m);
    case 'troubleshoot':
      return troubleshootSection({ ...engine, errors: m.errors });
  }
}

/** One page of the dashboard: header, sidebar, the notice of what a form did, the page's own sections. */
export function renderPage(m: PageModel, page: PageName): string {
  const body = pageBody(m, page);
  const section = PAGES.find((p) => p.name === page)!.title;
  const title = m.container ? `${m.container.name} — ${section}` : section;
  return `${documentHead(title)}
<body>${header(m, page)}
<div id="notifications" role="log" aria-live="polite" aria-label="Notifications"></div>
<div class="frame">${sidebar(page)}
<main><h1>${esc(m.container?.name ?? section)}</h1>${m.notice ? `<p class="notice" role="status">${esc(m.notice)}</p>` : ''}
${body}
</main></div></body></html>`;
}

/**
 * A page that follows a log stream, in the same frame (the live script fills the log and the
 * pill; without script, the API's stream is one link away).
 */
export function logPage(title: string, streamPath: string, filter = ''): string {
  return `${documentHead(title)}
<body><header><a class="brand" href="/">Berth</a><output id="pill" class="pill" aria-live="polite"></output></header>
<div id="notifications" role="log" aria-live="polite" aria-label="Notifications"></div>
<div class="frame">${sidebar()}
<main><h1>${esc(title)}</h1>${filter}
<pre id="log" data-stream="${esc(streamPath)}" role="log" aria-label="${esc(title)}" tabindex="0"></pre>
<noscript><p>Following needs script; <a href="${esc(streamPath)}">the raw stream</a> works without.</p></noscript></main></div></body></html>`;
}

/**
 * The one stylesheet: colours as custom properties, light or dark as the system says
 * (prefers-color-scheme); a sidebar beside the page, above it on a narrow window.
 */
export const STYLESHEET = `:root{--bg:#fff;--fg:#1b1f24;--muted:#57606a;--panel:#f3f5f7;--line:#d8dde3;--accent:#0b5cad;--ok:#c9f0d3;--bad:#f8d0d0;--busy:#fdebc4;--off:#d8dde3;--error:#a40000;--notice:#e6f0ff}
@media (prefers-color-scheme:dark){:root{--bg:#14171a;--fg:#e6e8eb;--muted:#9aa4ae;--panel:#1e2328;--line:#343b42;--accent:#7cb7ff;--ok:#1f5130;--bad:#6a2424;--busy:#5c4712;--off:#343b42;--error:#ff8f8f;--notice:#1d3150}}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,sans-serif;margin:0;color:var(--fg);background:var(--bg)}a{color:var(--accent)}
header{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;padding:.6rem 1.25rem;background:var(--panel);border-bottom:1px solid var(--line)}
.brand{font-weight:700;font-size:1.15rem;text-decoration:none;color:var(--fg);margin-right:.5rem}.actions{margin-left:auto;display:flex;gap:.4rem}
.frame{display:grid;grid-template-columns:12rem 1fr;min-height:calc(100vh - 3.2rem)}nav{background:var(--panel);border-right:1px solid var(--line);padding:1rem .5rem}
nav ul{margin:0}nav a{display:block;padding:.35rem .75rem;border-radius:.4rem;text-decoration:none;color:var(--fg)}nav a[aria-current=page]{background:var(--line);font-weight:600}
main{max-width:60rem;padding:0 1.5rem 2rem;min-width:0}main>h1{font-size:1.4rem;margin:1rem 0}section{margin:1.5rem 0}h2{font-size:1.1rem}
@media (max-width:48rem){.frame{grid-template-columns:1fr;align-content:start}nav{border-right:0;border-bottom:1px solid var(--line);padding:.25rem}nav ul{display:flex;flex-wrap:wrap}.actions{margin-left:0}}
.pill{padding:.2rem .7rem;border-radius:1rem;background:var(--off)}.pill.ok{background:var(--ok)}.pill.bad{background:var(--bad)}.pill.busy{background:var(--busy)}
.error{color:var(--error);margin:.2rem 0}.notice{background:var(--notice);padding:.5rem .75rem;border-radius:.4rem}
label{display:block;margin:.3rem 0}fieldset label,li label{display:inline}ul{list-style:none;padding:0}li{margin:.3rem 0}.state{color:var(--muted);margin-left:.6rem}
button{padding:.25rem .9rem;font:inherit;color:var(--fg);background:var(--panel);border:1px solid var(--line);border-radius:.35rem;cursor:pointer}button:hover{border-color:var(--accent)}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}input,textarea{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:.3rem;padding:.2rem .4rem}
form.inline{display:inline;margin-right:.3rem}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}h2 small{font-weight:400;color:var(--muted)}details summary{cursor:pointer;color:var(--accent)}
button.sort{background:none;border:0;padding:0;font-weight:700}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:1rem}.chart{margin:0}.chart svg{display:block;width:100%;height:5rem;background:var(--panel);border:1px solid var(--line);border-radius:.3rem}
.spark{display:inline-flex;align-items:center;gap:.3rem;margin-right:.6rem;white-space:nowrap}.spark svg{width:4rem;height:1.4rem;background:var(--panel)}.spark output{font-size:.85em;min-width:4.5rem}
polyline.line{fill:none;stroke:var(--accent);stroke-width:1.5;vector-effect:non-scaling-stroke}polyline.s1{stroke:var(--muted);stroke-dasharray:4 2}
#terminal .screen{height:22rem;padding:.3rem;background:var(--panel);border:1px solid var(--line);border-radius:.3rem}
.log-tools label{display:inline-block;margin-right:1rem}.disk-bar{display:block;width:100%;height:1.6rem;border:1px solid var(--line);border-radius:.3rem}.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.4rem;border-radius:.2rem;vertical-align:-.05rem}
.k0{fill:#2f6fbe;background:#2f6fbe}.k1{fill:#d9822b;background:#d9822b}.k2{fill:#2e9a5b;background:#2e9a5b}.k3{fill:#8e5cc2;background:#8e5cc2}.k4{fill:#8a939c;background:#8a939c}.k5{fill:var(--panel);background:var(--panel);outline:1px solid var(--line)}
#notifications{position:fixed;right:1rem;bottom:1rem;z-index:10;display:flex;flex-direction:column;gap:.5rem;max-width:min(28rem,calc(100vw - 2rem))}
.toast{display:flex;gap:.75rem;align-items:flex-start;padding:.6rem .8rem;background:var(--notice);border:1px solid var(--line);border-radius:.4rem;box-shadow:0 2px 8px #0003}.toast p{margin:0;flex:1;overflow-wrap:anywhere}
.scroll{overflow-x:auto}pre#log{background:var(--panel);padding:.75rem;max-height:70vh;overflow:auto}input:not([type]){min-width:18rem;max-width:100%}textarea{width:100%}`;
