/**
 * A line that `berth-agent start` prints for something the user should know but that does
 * not stop the engine (a cap the kernel cannot enforce): the manager shows it in status.
 */
export const AGENT_WARNING = 'berth-agent: warning: ';
