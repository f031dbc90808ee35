import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProxyError } from './errors.js';
import type { Protocol } from './forward.js';
import { z } from 'zod';
import { rawHttp } from './raw-http.js';

export const portRequestSchema = z
  .object({
    host: z.string().min(1).max(64),
    port: z.number().int().min(1).max(65535),
    proto: z.enum(['tcp', 'udp']),
  })
  .strict();
export type PortRequest = z.infer<typeof portRequestSchema> & { proto: Protocol };

/** The claim a distro's proxy sends the manager before a container starts (both ends use it). */
export const portClaimSchema = z.object({ ports: z.array(portRequestSchema).max(1024) }).strict();

/** Docker's HostIp → where the port is bound: any address means loopback here. */
export function listenAddress(hostIp: string | undefined): string {
  if (!hostIp || hostIp === '0.0.0.0') return '127.0.0.1';
  if (hostIp === '::') return '::1';
  return hostIp;
}

/** The explicit host ports a container asks for (random ones are known only once it runs). */
export async function requestedPorts(connectDaemon: () => Promise<Duplex>, id: string): Promise<PortRequest[]> {
  const r = await rawHttp(await connectDaemon(), 'GET', `/containers/${encodeURIComponent(id)}/json`, 5000);
  if (r.status !== 200) return []; // the daemon will answer the start itself
  const bindings = (JSON.parse(r.body) as { HostConfig?: { PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> } }).HostConfig?.PortBindings ?? {};
  const out: PortRequest[] = [];
  for (const [spec, list] of Object.entries(bindings)) {
    const proto = spec.split('/')[1] ?? 'tcp';
    if (proto !== 'tcp' && proto !== 'udp') continue; // sctp is not forwarded
    for (const b of list ?? []) if (b.HostPort && Number(b.HostPort) > 0) out.push({ host: listenAddress(b.HostIp), port: Number(b.HostPort), proto });
  }
  return out;
}

/** Asks the manager's claim socket (in the shared area) to bind the ports; a refusal becomes the start's error. */
export function claimThrough(socketPath: string, ports: PortRequest[]): Promise<void> {
  if (ports.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: '/claim', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        if (res.statusCode === 200) return resolve();
        let message = body;
        try {
          message = (JSON.parse(body) as { message: string }).message;
        } catch {
          // as it came
        }
        reject(new ProxyError(500, message));
      });
    });
    // Fail closed: a port nobody claimed could be in use on the host, and the start would
    // seem to work while the port leads elsewhere.
    req.on('error', (e) => reject(new ProxyError(503, `Berth: cannot claim ports ${ports.map((p) => p.port).join(', ')}: the manager's claim socket does not answer (${e.message}); is Berth running? \`berth status\``)));
    req.end(JSON.stringify(portClaimSchema.parse({ ports })));
  });
}
