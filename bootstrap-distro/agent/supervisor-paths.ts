/** The log daemon's published query socket (kept apart so `logread` does not load the supervisor). */
export const LOG_QUERY_PUBLISHED = sharedPath('logSocket');
import { sharedPath } from '../../common/shared-area.js';

/**
 * The start and the supervisor try the engine's socket when it appears (common/socket-watch.ts),
 * and at least this often: a late "ready" costs every start, a try costs little.
 */
export const READY_BACKSTOP_MS = 10;
