/** The log daemon's published query socket (kept apart so `logread` does not load the supervisor). */
export const LOG_QUERY_PUBLISHED = sharedPath('logSocket');
import { sharedPath } from '../../common/shared-area.js';

/** How often the start and the supervisor look for the engine's answer (a /_ping is cheap; a late "ready" is not). */
export const READY_POLL_MS = 2;
