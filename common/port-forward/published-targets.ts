import type { Duplex } from 'node:stream';
import type { Protocol } from './claim-messages.js';
import { listContainers } from '../docker-api.js';

/** Whether the forwarder may connect to a target: only a running container's published port. */
export type TargetCheck = (proto: Protocol, ip: string, port: number) => Promise<boolean>;

const FRESH_MS = 1000;

/**
 * The targets the engine publishes, from the daemon's container list: each running
 * container's addresses with each private port that has a host port. Kept for a second; a
 * target not in it is looked up once more (a container that just started), then refused.
 */
export function publishedTargets(connectDaemon: () => Promise<Duplex>): TargetCheck {
  let known = new Set<string>();
  let at = 0;
  let inFlight: Promise<void> | undefined;
  const fetchKnown = async () => {
    const next = new Set<string>();
    for (const c of await listContainers(connectDaemon)) {
      const ips = Object.values(c.NetworkSettings?.Networks ?? {})
        .flatMap((n) => [n.IPAddress, n.GlobalIPv6Address])
        .filter((ip): ip is string => !!ip);
      for (const p of c.Ports ?? []) {
        if (!p.PublicPort || !p.PrivatePort) continue;
        for (const ip of ips) next.add(`${p.Type ?? 'tcp'} ${ip} ${p.PrivatePort}`);
      }
    }
    known = next;
    at = Date.now();
  };
  // Many connections at once (a burst on a published port) share one look at the daemon.
  const refresh = () => (inFlight ??= fetchKnown().finally(() => (inFlight = undefined)));
  return async (proto, ip, port) => {
    const key = `${proto} ${ip} ${port}`;
    if (Date.now() - at < FRESH_MS && known.has(key)) return true;
    try {
      await refresh();
    } catch (e) {
      // A daemon too busy to answer does not cut off what it published a moment ago.
      if (known.has(key)) return true;
      throw e;
    }
    return known.has(key);
  };
}
