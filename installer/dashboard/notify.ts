// What the page tells the user as the status changes: pure, so it is tested without a browser
// (live.ts shows what it returns).

/** The parts of the live status (server.ts's liveStatus) that are worth a notification. */
export interface Watched {
  state: string;
  error?: string | undefined;
  enabled?: boolean;
  paused?: boolean | undefined;
  /** berth-data is full: the fix. */
  diskFull?: string | undefined;
  /** The upstream proxy refused or asks for credentials: the fix. */
  proxyProblem?: string | undefined;
  /** Berth was updated since it started: what to run. */
  update?: string | undefined;
}

const STATES: Record<string, (s: Watched) => string> = {
  starting: () => 'The engine is starting.',
  running: () => 'The engine is running.',
  stopping: () => 'The engine is stopping.',
  stopped: () => 'The engine stopped.',
  failed: (s) => `The engine failed: ${s.error ?? 'no reason given'}.`,
};

/**
 * The notifications between two statuses (`before` undefined: the page just opened, and only
 * what needs the user's action is said: a full disk, proxy credentials, an update).
 */
export function notificationsFor(before: Watched | undefined, now: Watched): string[] {
  const out: string[] = [];
  if (before && before.state !== now.state) out.push(STATES[now.state]?.(now) ?? `The engine is ${now.state}.`);
  if (before && now.state === 'running' && before.state === 'running' && Boolean(before.paused) !== Boolean(now.paused)) {
    out.push(now.paused ? 'Resource Saver paused the engine: nothing ran for a while. The next docker command resumes it.' : 'Resource Saver resumed the engine.');
  }
  if (now.diskFull && now.diskFull !== before?.diskFull) out.push(`berth-data is full. ${now.diskFull}`);
  if (now.proxyProblem && now.proxyProblem !== before?.proxyProblem && /credential/i.test(now.proxyProblem)) out.push(`Proxy credentials needed: ${now.proxyProblem}`);
  if (now.update && now.update !== before?.update) out.push(now.update);
  return out;
}
