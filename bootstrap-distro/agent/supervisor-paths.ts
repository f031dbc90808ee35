/** The log daemon's published query socket (kept apart so `logread` does not load the supervisor). */
export const LOG_QUERY_PUBLISHED = '/mnt/wsl/berth/log.sock';
