import type { BackendStatus } from '../backend/status-schema.js';
import type { DiskUsage } from './docker-routes.js';
import { formatBytes as gib } from '../../data-distro/disk-usage.js';
import { esc } from './html.js';

/** A prune from the picture: the kind's own, coming back to the Engine page. */
const prune = (path: string, label: string) => `<form method="post" action="${path}" class="inline"><input type="hidden" name="from" value="engine"><button>${label}</button></form>`;

/**
 * berth-data's disk as a picture: images, containers, volumes and build cache (from the
 * engine's system/df), the rest of what is used (the engine's own files, logs), and what is
 * free, each a part of one bar as wide as the disk; below, each part's size and what its
 * prune would free, with the prune.
 */
export function diskUsageSection(df: DiskUsage | undefined, disk: BackendStatus['disk']): string {
  if (!df || !disk) return '<section id="disk-usage" aria-labelledby="disk-usage-h"><h2 id="disk-usage-h">Disk usage</h2><p>Shown while the engine runs.</p></section>';
  const known = df.images.bytes + df.containers.bytes + df.volumes.bytes + df.buildCache.bytes;
  const parts = [
    { name: 'Images', count: String(df.images.count), bytes: df.images.bytes, free: df.images.reclaimable, action: prune('/ui/images/prune', 'Prune unused images') },
    { name: 'Containers', count: String(df.containers.count), bytes: df.containers.bytes, free: df.containers.reclaimable, action: prune('/ui/containers/prune', 'Delete stopped containers') },
    { name: 'Volumes', count: String(df.volumes.count), bytes: df.volumes.bytes, free: df.volumes.reclaimable, action: prune('/ui/volumes/prune', 'Prune unused volumes') },
    { name: 'Build cache', count: '', bytes: df.buildCache.bytes, free: df.buildCache.reclaimable, action: prune('/ui/build/prune', 'Prune build cache') },
    { name: 'Other (the engine’s own files, logs)', count: '', bytes: Math.max(0, disk.usedBytes - known), free: 0, action: '' },
    { name: 'Free', count: '', bytes: disk.availBytes, free: 0, action: '' },
  ];
  let x = 0;
  const rects = parts.map((p, i) => {
    const width = (p.bytes / disk.sizeBytes) * 1000;
    const rect = `<rect class="k${i}" x="${x.toFixed(1)}" y="0" width="${width.toFixed(1)}" height="20"></rect>`;
    x += width;
    return rect;
  });
  const said = parts.map((p) => `${p.name} ${gib(p.bytes)}`).join(', ');
  const freeable = parts.reduce((a, p) => a + p.free, 0);
  const rows = parts.map(
    (p, i) =>
      `<tr data-part="${i}"><td><span class="swatch k${i}" aria-hidden="true"></span>${esc(p.name)}</td><td>${p.count}</td><td>${gib(p.bytes)}</td><td>${p.action ? gib(p.free) : ''}</td><td>${p.free > 0 ? p.action : ''}</td></tr>`,
  );
  return `<section id="disk-usage" aria-labelledby="disk-usage-h"><h2 id="disk-usage-h">Disk usage</h2>
<p>berth-data: ${gib(disk.usedBytes)} of ${gib(disk.sizeBytes)} used. Prunes would free ${gib(freeable)}.</p>
<svg class="disk-bar" viewBox="0 0 1000 20" preserveAspectRatio="none" role="img" aria-label="berth-data, ${esc(gib(disk.sizeBytes))}: ${esc(said)}">${rects.join('')}</svg>
<table><thead><tr><th>What</th><th>Count</th><th>Size</th><th>A prune would free</th><th>Prune</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}
