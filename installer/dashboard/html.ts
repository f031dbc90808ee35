/** Text for HTML, in an element or a quoted attribute: every value a page shows goes through it. */
export const esc = (s: unknown): string => (typeof s === 'string' || typeof s === 'number' || typeof s === 'boolean' ? String(s) : '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Bytes as the pages show them: "12.3 MiB". */
export const mib = (bytes: unknown): string => `${(Number(bytes ?? 0) / 2 ** 20).toFixed(1)} MiB`;

/**
 * A one-button form that posts to `path` (the pages' actions work without script). `name`
 * tells apart buttons of one label on a page ("Stop project demo") for a screen reader.
 */
export const postButton = (path: string, label: string, name = ''): string =>
  `<form method="post" action="${path}" class="inline"><button${name ? ` aria-label="${esc(`${label} ${name}`)}"` : ''}>${label}</button></form>`;
