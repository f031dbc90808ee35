/** Text for HTML, in an element or a quoted attribute: every value a page shows goes through it. */
export const esc = (s: unknown): string => (typeof s === 'string' || typeof s === 'number' || typeof s === 'boolean' ? String(s) : '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Bytes as the pages show them: "12.3 MiB". */
export const mib = (bytes: unknown): string => `${(Number(bytes ?? 0) / 2 ** 20).toFixed(1)} MiB`;

/** A refused form's message at its field (the field's aria-describedby names `NAME-error`). */
export const fieldError = (errors: Record<string, string> | undefined, name: string): string => (errors?.[name] ? `<p class="error" id="${name}-error" role="alert">${esc(errors[name])}</p>` : '');

/**
 * A one-button form that posts to `path` (the pages' actions work without script). `name`
 * tells apart buttons of one label on a page ("Stop project demo") for a screen reader.
 */
export const postButton = (path: string, label: string, name = ''): string =>
  `<form method="post" action="${path}" class="inline"><button${name ? ` aria-label="${esc(`${label} ${name}`)}"` : ''}>${label}</button></form>`;

/**
 * Above a log: a search that shows only the lines with its words, whether the view follows
 * new lines (both need script: hidden until it runs), and the whole log as a file.
 */
export function logTools(download?: string): string {
  return `<p class="log-tools"><label hidden>Search the log <input type="search" data-log-search></label> <label hidden><input type="checkbox" data-log-follow checked> Follow new lines</label>${
    download ? ` <a href="${esc(download)}" download>Download the whole log</a>` : ''
  }</p>`;
}

/**
 * A wide table in a box of its own that scrolls sideways on a narrow window, so the page
 * never does; focusable and named, so the keyboard can scroll it too.
 */
export const scrollBox = (label: string, table: string): string => `<div class="scroll" tabindex="0" role="region" aria-label="${esc(label)}">${table}</div>`;
