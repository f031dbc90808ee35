import * as z from '../zod.js';

/** The protocols a published port may have. */
export const protocolSchema = z.enum(['tcp', 'udp']);
export type Protocol = z.infer<typeof protocolSchema>;

/** A published port as a distro's proxy claims it from the manager before a container starts. */
export const portRequestSchema = z
  .object({
    host: z.string().min(1).max(64),
    port: z.number().int().min(1).max(65535),
    proto: protocolSchema,
  })
  .strict();
export type PortRequest = z.infer<typeof portRequestSchema>;

/** A published port's one name, on both sides and in the port helper's lines: `HOST:PORT/PROTO`. */
export const portKey = (r: PortRequest) => `${r.host}:${r.port}/${r.proto}`;

/** The claim a distro's proxy sends the manager before a container starts (both ends use it). */
export const portClaimSchema = z.object({ ports: z.array(portRequestSchema).max(1024) }).strict();
/** The manager's answer to a claim that it granted. */
export const portClaimReplySchema = z.object({ claimed: z.number().int() }).strict();

/** Docker's HostIp → where the port is bound: any address means loopback here. */
export function listenAddress(hostIp: string | undefined): string {
  if (!hostIp || hostIp === '0.0.0.0') return '127.0.0.1';
  if (hostIp === '::') return '::1';
  return hostIp;
}

/**
 * What a distro's proxy tells the manager once the daemon has started a container, before it
 * answers the client: the container's published ports are then made to lead to it.
 */
export const containerStartedSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/) }).strict();
export const containerStartedReplySchema = z.object({ published: z.literal(true) }).strict();
