/**
 * A line that `berth-agent start` prints for something the user should know but that does
 * not stop the engine (a cap the kernel cannot enforce): the manager shows it in status.
 */
export const AGENT_WARNING = 'berth-agent: warning: ';

/**
 * The line `berth-agent start` prints once the engine's network namespace is published in the
 * shared area, while dockerd still starts: the manager attaches the engine link then, not after.
 */
export const ENGINE_NETNS_LINE = 'berth-agent: the engine network namespace is published';
