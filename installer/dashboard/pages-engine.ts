import { CONFIRM_WORDS, type ResetKind } from './api.js';
import { esc, mib as size, postButton as action, scrollBox } from './html.js';
import type { ContainerRow } from './pages-containers.js';
import type { DiskUsage } from './docker-routes.js';

/** The page sections of the engine's things (containers, images, volumes) and Troubleshoot. */

export interface EngineModel {
  /** Undefined when the engine does not answer. */
  containers?: ContainerRow[];
  images?: Array<{ id: string; tags: string[]; size: unknown }>;
  volumes?: Array<{ name: unknown; driver: unknown }>;
  df?: DiskUsage;
  errors?: Record<string, string>;
}

export function imagesSection(m: EngineModel): string {
  if (!m.images) return '<section id="images"><p>The engine is not running.</p></section>';
  const images = m.images
    .map(
      (i) =>
        `<tr><td>${esc(i.tags.join(', ') || '<none>')}</td><td>${esc(i.id)}</td><td>${size(i.size)}</td><td>${i.tags[0] ? `<a href="/images?run=${encodeURIComponent(i.tags[0])}#run">Run</a> ` : ''}${action(`/ui/images/${encodeURIComponent(i.id)}/delete`, 'Delete')}</td></tr>`,
    )
    .join('\n');
  const df = m.df ? `<p>Images take ${size(m.df.images.bytes)}; unused ones, ${size(m.df.images.reclaimable)}, which a prune frees. <a href="/engine#disk-usage">All of the disk</a></p>` : '';
  return `<section id="images" aria-label="Images">${df}
${scrollBox('Images', `<table data-sortable><thead><tr><th>Tags</th><th>ID</th><th>Size</th><th data-nosort>Actions</th></tr></thead><tbody>${images || '<tr><td colspan="4">No images.</td></tr>'}</tbody></table>`)}${action('/ui/images/prune', 'Prune unused images')}</section>`;
}

/** The volumes, each with its size and the containers that use it (one in use cannot be pruned). */
export function volumesSection(m: EngineModel): string {
  if (!m.volumes) return '<section id="volumes"><p>The engine is not running.</p></section>';
  const users = (name: string) => (m.containers ?? []).filter((c) => c.volumes?.includes(name)).map((c) => c.name);
  const volumes = m.volumes
    .map((v) => {
      const name = String(v.name);
      const bytes = m.df?.volumeBytes?.[name];
      const used = users(name);
      return `<tr data-volume="${esc(name)}"><td>${esc(name)}</td><td>${esc(v.driver)}</td><td>${bytes === undefined || bytes < 0 ? '' : size(bytes)}</td><td>${used.map(esc).join(', ') || '<em>none</em>'}</td><td>${action(`/ui/volumes/${encodeURIComponent(name)}/delete`, 'Delete')}</td></tr>`;
    })
    .join('\n');
  return `<section id="volumes" aria-label="Volumes">
${scrollBox('Volumes', `<table data-sortable><thead><tr><th>Name</th><th>Driver</th><th>Size</th><th>Used by</th><th data-nosort>Actions</th></tr></thead><tbody>${volumes || '<tr><td colspan="5">No volumes.</td></tr>'}</tbody></table>`)}${action('/ui/volumes/prune', 'Prune unused volumes')}</section>`;
}

function confirmForm(kind: ResetKind, title: string, what: string, errors: Record<string, string> | undefined): string {
  const word = CONFIRM_WORDS[kind];
  const err = errors?.[kind] ? `<p class="error" id="${kind}-error" role="alert">${esc(errors[kind])}</p>` : '';
  return `<form method="post" action="/ui/${kind}">
  <label>${title}: ${what} Type <b>${word}</b> to confirm
  <input name="confirm" autocomplete="off" aria-describedby="${kind}-error"></label>${err}
  <button>${title}</button>
</form>`;
}

export function troubleshootSection(m: EngineModel): string {
  return `<section id="troubleshoot" aria-label="Troubleshoot">
<p><a href="/api/v1/diagnostics" download>Download diagnostics</a> · <a href="/logs">Berth's logs</a></p>
${confirmForm('purge', 'Clean / Purge data', 'deletes every image, container and volume; settings are kept.', m.errors)}
${confirmForm('factory', 'Reset to factory defaults', 'deletes every image, container and volume, and puts every setting back to its default (the engine is switched off).', m.errors)}
</section>`;
}
