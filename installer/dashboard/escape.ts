/** Text for HTML, in an element or a quoted attribute: every value a page shows goes through it. */
export const esc = (s: unknown): string => (typeof s === 'string' || typeof s === 'number' || typeof s === 'boolean' ? String(s) : '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
