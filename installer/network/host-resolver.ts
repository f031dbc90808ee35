import { createSocket } from 'node:dgram';
import { lookup as dnsLookup, getServers } from 'node:dns';
import { promisify } from 'node:util';

/** How the host resolves names: its resolver library for addresses, its nameservers for the rest. */
export interface HostResolver {
  /** Addresses of `name` for family 4 or 6 (getaddrinfo); [] when the name exists without them; NameNotFound when it does not exist. */
  lookup(name: string, family: 4 | 6): Promise<string[]>;
  /** Sends a whole query to the host's nameservers and returns their answer as is. */
  forward(query: Buffer): Promise<Buffer>;
}

export class NameNotFound extends Error {}

const lookupAll = promisify(dnsLookup);
const FORWARD_TIMEOUT_MS = 2000;
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NONAME', 'EAI_NODATA']);

/**
 * The host's resolver: getaddrinfo (node's dns.lookup) for addresses, as the host's own
 * programs resolve (hosts file, nsswitch, a VPN's per-domain resolvers), and the host's
 * nameservers (resolv.conf) for the other record types.
 */
export class SystemResolver implements HostResolver {
  async lookup(name: string, family: 4 | 6): Promise<string[]> {
    try {
      const found = await lookupAll(name, { family, all: true, verbatim: true });
      return [...new Set(found.map((a) => a.address))];
    } catch (e) {
      if (!NOT_FOUND.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
    // The name may exist with the other family only: that is "no data", not NXDOMAIN.
    try {
      await lookupAll(name, { family: 0, all: true });
      return [];
    } catch (e) {
      if (NOT_FOUND.has((e as NodeJS.ErrnoException).code ?? '')) throw new NameNotFound(name, { cause: e });
      throw e;
    }
  }

  async forward(query: Buffer): Promise<Buffer> {
    const servers = getServers();
    if (servers.length === 0) throw new Error('the host has no nameservers in resolv.conf');
    let last: unknown;
    for (const server of servers) {
      try {
        return await askOverUdp(query, server);
      } catch (e) {
        last = e;
      }
    }
    throw new Error(`no host nameserver answered (${servers.join(', ')})`, { cause: last });
  }
}

/** One UDP exchange with a nameserver ("1.2.3.4", "::1" or "[::1]:5353"). */
function askOverUdp(query: Buffer, server: string): Promise<Buffer> {
  const m = /^\[(.+)\]:(\d+)$/.exec(server) ?? /^([\d.]+):(\d+)$/.exec(server);
  const address = m ? m[1]! : server;
  const port = m ? Number(m[2]) : 53;
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${server} did not answer within ${FORWARD_TIMEOUT_MS} ms`)), FORWARD_TIMEOUT_MS);
    socket.on('error', reject);
    socket.on('message', (msg) => {
      // Only the answer to this query (same id) counts.
      if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) resolve(msg);
    });
    socket.send(query, port, address);
    socket.once('close', () => clearTimeout(timer));
  }).finally(() => socket.close());
}
