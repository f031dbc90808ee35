// How much of the charts' history there is: one place for the sampler (usage.ts, on the
// server) and the page's charts (charts.ts, in the browser), which keep and draw the same.

export const SAMPLE_MS = 2000;
/** The engine's charts: 15 minutes. */
export const ENGINE_WINDOW_MS = 15 * 60 * 1000;
/** A container's sparkline: its last minute. */
export const CONTAINER_WINDOW_MS = 60 * 1000;
export const KEEP_ENGINE = ENGINE_WINDOW_MS / SAMPLE_MS;
export const KEEP_CONTAINER = CONTAINER_WINDOW_MS / SAMPLE_MS;
