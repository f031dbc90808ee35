import type { Duplex } from 'node:stream';
import { ProxyError } from './errors.js';
import { containerStartedReplySchema, containerStartedSchema, listenAddress, portClaimReplySchema, portClaimSchema, type PortRequest } from '../common/port-forward/claim-messages.js';
import { portBindings } from '../common/docker-api.js';
import { HttpError, httpJson } from '../common/http-client.js';

/** The explicit host ports a container asks for (random ones are known only once it runs). */
export async function requestedPorts(connectDaemon: () => Promise<Duplex>, id: string): Promise<PortRequest[]> {
  const bindings = await portBindings(connectDaemon, id);
  if (!bindings) return []; // no such container: the daemon will answer the start itself
  const out: PortRequest[] = [];
  for (const [spec, list] of Object.entries(bindings)) {
    const proto = spec.split('/')[1] ?? 'tcp';
    if (proto !== 'tcp' && proto !== 'udp') continue; // sctp is not forwarded
    for (const b of list ?? []) if (b.HostPort && Number(b.HostPort) > 0) out.push({ host: listenAddress(b.HostIp), port: Number(b.HostPort), proto });
  }
  return out;
}

/** Asks the manager's claim socket (in the shared area) to bind the ports; a refusal becomes the start's error. */
export async function claimThrough(socketPath: string, ports: PortRequest[]): Promise<void> {
  if (ports.length === 0) return;
  try {
    await httpJson(socketPath, { method: 'POST', path: '/claim', json: portClaimSchema.parse({ ports }), timeoutMs: 30_000 }, portClaimReplySchema);
  } catch (e) {
    // The manager refused (a port taken on the host): its message is the start's error.
    if (e instanceof HttpError && e.kind === 'status') throw new ProxyError(500, e.message, { cause: e });
    // Fail closed: a port nobody claimed could be in use on the host, and the start would
    // seem to work while the port leads elsewhere.
    throw new ProxyError(503, `Berth: cannot claim ports ${ports.map((p) => p.port).join(', ')}: the manager's claim socket does not answer (${(e as Error).message}); is Berth running? \`berth status\``, { cause: e });
  }
}

/**
 * Tells the manager that the daemon started container `id`, and waits until its published
 * ports lead to it. A manager that does not answer is reported: the start itself happened,
 * so the ports follow from the engine's events a moment later instead.
 */
export async function announceStarted(socketPath: string, id: string): Promise<void> {
  try {
    await httpJson(socketPath, { method: 'POST', path: '/started', json: containerStartedSchema.parse({ id }), timeoutMs: 30_000 }, containerStartedReplySchema);
  } catch (e) {
    throw new Error(`the manager did not publish the ports of ${id} before the start's answer (${(e as Error).message}); they follow within seconds`, { cause: e });
  }
}
