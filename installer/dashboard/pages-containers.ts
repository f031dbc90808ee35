import type { ContainerView } from './container-view.js';
import { esc, logTools, postButton as action, scrollBox } from './html.js';
import { timeElement } from './human-time.js';
import { containerUsage } from './pages-charts.js';

/** A container as the Containers page lists it (docker-routes.ts shapes the daemon's list). */
export interface ContainerRow {
  id: string;
  name: string;
  image: unknown;
  state: unknown;
  status: unknown;
  ports: Array<{ host: number; container: number; proto: string }>;
  project?: string;
  /** Names of the volumes it mounts. */
  volumes?: string[];
}

/** A published TCP port opens in the browser; UDP ones are only shown. */
function portLinks(ports: ContainerRow['ports']): string {
  return ports.map((p) => (p.proto === 'tcp' ? `<a href="http://localhost:${p.host}/" target="_blank" rel="noopener">${p.host}→${p.container}</a>` : `${p.host}→${p.container}/${esc(p.proto)}`)).join(', ');
}

function actions(c: { id: string; state: unknown }): string {
  const base = `/ui/containers/${encodeURIComponent(c.id)}`;
  return (c.state === 'running' ? action(`${base}/stop`, 'Stop') + action(`${base}/restart`, 'Restart') : action(`${base}/start`, 'Start')) + action(`${base}/delete`, 'Delete');
}

function rows(list: ContainerRow[]): string {
  return list
    .map(
      (c) =>
        `<tr data-container="${esc(c.name)}"><td><a href="/containers/${encodeURIComponent(c.id)}">${esc(c.name)}</a></td><td>${esc(c.image)}</td><td>${esc(c.status)}</td><td>${c.state === 'running' ? containerUsage(c.id, true) : ''}</td><td>${portLinks(c.ports)}</td>
<td>${actions(c)} <a href="/containers/${encodeURIComponent(c.id)}/logs">Logs</a></td></tr>`,
    )
    .join('\n');
}

const HEAD = '<thead><tr><th>Name</th><th>Image</th><th>Status</th><th data-nosort>CPU, memory</th><th>Ports</th><th data-nosort>Actions</th></tr></thead>';

/** The containers, those of a compose project together under its name, with the project's own Start, Stop and Delete. */
export function containersSection(list: ContainerRow[] | undefined, runningOnly: boolean): string {
  if (!list) return '<section id="containers"><p>The engine is not running.</p></section>';
  const view = runningOnly ? '<p>Showing running containers. <a href="/containers">Show all</a></p>' : '<p>Showing all containers. <a href="/containers?view=running">Show running only</a></p>';
  const shown = list.filter((c) => !runningOnly || c.state === 'running');
  const projects = [...new Set(shown.flatMap((c) => (c.project ? [c.project] : [])))].sort();
  const groups = projects.map((p) => {
    const members = shown.filter((c) => c.project === p);
    const base = `/ui/projects/${encodeURIComponent(p)}`;
    const running = members.filter((c) => c.state === 'running').length;
    return `<section class="project" data-project="${esc(p)}" aria-labelledby="project-${esc(p)}-h"><h2 id="project-${esc(p)}-h">${esc(p)} <small>compose project, ${running} of ${members.length} running</small></h2>
<p>${action(`${base}/start`, 'Start', `project ${p}`)}${action(`${base}/stop`, 'Stop', `project ${p}`)}${action(`${base}/delete`, 'Delete', `project ${p}`)}</p>
${scrollBox(`Containers of ${p}`, `<table data-sortable>${HEAD}<tbody>${rows(members)}</tbody></table>`)}</section>`;
  });
  const single = shown.filter((c) => !c.project);
  const others = single.length || !projects.length ? scrollBox('Containers', `<table data-sortable>${HEAD}<tbody>${rows(single) || '<tr><td colspan="6">No containers.</td></tr>'}</tbody></table>`) : '';
  return `<section id="containers" aria-label="Containers">${view}${groups.join('\n')}${others}</section>`;
}

const table = (head: string[], body: string[][]) =>
  `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') || `<tr><td colspan="${head.length}">None.</td></tr>`}</tbody></table>`;

/** A shell in a running container, in the page (the button shows once the script runs). */
function terminalSection(c: ContainerView): string {
  const body =
    c.state === 'running'
      ? `<p><button type="button" class="open" hidden>Open a shell</button> <span role="status"></span></p><div class="screen" hidden></div>
<noscript><p>The terminal needs script; <code>docker exec -it ${esc(c.name)} sh</code> does the same.</p></noscript>`
      : '<p>Start the container to open a shell in it.</p>';
  return `<section id="terminal" aria-labelledby="terminal-h" data-socket="/api/v1/containers/${esc(encodeURIComponent(c.id))}/terminal"><h2 id="terminal-h">Terminal</h2>${body}</section>`;
}

/** One container, readably: what it runs, its environment (secret-looking values hidden until clicked), mounts, ports, networks, labels, and its log. */
export function containerDetail(c: ContainerView): string {
  const env = c.env.map((e) => [`<code>${esc(e.name)}</code>`, e.secret ? `<details><summary>hidden: show</summary><code>${esc(e.value)}</code></details>` : `<code>${esc(e.value)}</code>`]);
  const facts: Array<[string, string]> = [
    ['Image', esc(c.image)],
    ['Command', `<code>${esc(c.command)}</code>`],
    ['State', esc(c.state)],
    ['Started', timeElement(c.startedAt)],
    ['Created', timeElement(c.created)],
    ...(c.project ? [['Compose project', esc(c.project)] as [string, string]] : []),
  ];
  const logs = `/api/v1/containers/${encodeURIComponent(c.id)}/logs`;
  return `<p>${actions(c)}</p>
<section id="overview" aria-label="Overview"><dl>${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl></section>
${c.state === 'running' ? `<section id="stats" aria-labelledby="stats-h"><h2 id="stats-h">Use, last minute</h2><div class="charts">${containerUsage(c.id, false)}</div></section>` : ''}
<section id="env" aria-labelledby="env-h"><h2 id="env-h">Environment</h2>${table(['Name', 'Value'], env)}</section>
<section id="mounts" aria-labelledby="mounts-h"><h2 id="mounts-h">Mounts</h2>${table(
    ['Type', 'Source', 'In the container', 'Mode'],
    c.mounts.map((m) => [esc(m.type), `<code>${esc(m.source)}</code>`, `<code>${esc(m.destination)}</code>`, m.readOnly ? 'read-only' : 'read-write']),
  )}</section>
<section id="ports" aria-labelledby="ports-h"><h2 id="ports-h">Ports</h2>${table(
    ['In the container', 'On the host'],
    c.ports.map((p) => [esc(p.container), esc(p.host)]),
  )}</section>
<section id="networks" aria-labelledby="networks-h"><h2 id="networks-h">Networks</h2>${table(
    ['Network', 'Address'],
    c.networks.map((n) => [esc(n.name), esc(n.ip)]),
  )}</section>
<section id="labels" aria-labelledby="labels-h"><h2 id="labels-h">Labels</h2>${table(
    ['Label', 'Value'],
    c.labels.map((l) => [`<code>${esc(l.name)}</code>`, esc(l.value)]),
  )}</section>
${terminalSection(c)}
<section id="logs" aria-labelledby="logs-h"><h2 id="logs-h">Logs</h2><p><a href="/containers/${encodeURIComponent(c.id)}/logs">Open in a page of its own</a></p>${logTools(`${logs}?download=1`)}
<pre id="log" data-stream="${esc(logs)}" role="log" aria-label="Logs of ${esc(c.name)}" tabindex="0"></pre></section>`;
}
