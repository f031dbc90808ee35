/** The log daemon's published query socket (kept apart so `logread` does not load the supervisor). */
export const LOG_QUERY_PUBLISHED = sharedPath('logSocket');
import { sharedPath } from '../../common/shared-area.js';
