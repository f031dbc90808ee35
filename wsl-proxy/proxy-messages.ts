import * as z from '../common/zod.js';
import { parseLine } from '../common/json-lines.js';

/**
 * What `berth-proxy serve` tells the manager that started it: one JSON line per message on
 * stdout, and its exit code. The manager parses with the same schema and names.
 */
export const proxyMessageSchema = z.discriminatedUnion('kind', [
  /** A line for Berth's log. */
  z.object({ kind: z.literal('log'), text: z.string() }).strict(),
  /** The socket answers: `docker` works in the distro from now on. */
  z.object({ kind: z.literal('serving'), socket: z.string(), distro: z.string() }).strict(),
]);
export type ProxyMessage = z.infer<typeof proxyMessageSchema>;

export const PROXY_EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** Something else (the user's own dockerd) serves the socket: a conflict, not a crash to restart. */
  socketTaken: 4,
} as const;

export function formatProxyMessage(message: ProxyMessage): string {
  return `${JSON.stringify(proxyMessageSchema.parse(message))}\n`;
}

/** One stdout line of the proxy; a line that is not a message comes back as log text. */
export function readProxyMessage(line: string): ProxyMessage {
  const r = parseLine(proxyMessageSchema, line);
  return 'value' in r ? r.value : { kind: 'log', text: line };
}
