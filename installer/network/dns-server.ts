import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { HostResolver } from './host-resolver.js';

const MAX_UDP_ANSWER = 512; // without EDNS0, a client reads 512 bytes; more means TC and a retry over TCP
const TCP_IDLE_MS = 10_000;

export interface DnsServer {
  /** The loopback port, the same for UDP and TCP. */
  port: number;
  close(): Promise<void>;
}

/**
 * Berth DNS on the host side: UDP and TCP on one loopback port. The engine reaches it at the
 * link's gateway (port 53, redirected to this port inside the engine's namespace).
 */
export interface DnsServerOptions {
  resolver: HostResolver;
  internalNames: ReadonlyMap<string, string>;
  /** What the host's 127.0.0.1 is called in answers (the gateway, which reaches it). */
  hostLoopbackAs?: string;
  log: (line: string) => void;
  host?: string;
}

export async function startDnsServer(o: DnsServerOptions): Promise<DnsServer> {
  const host = o.host ?? '127.0.0.1';
  // The DNS packet codec loads with the server, when the engine link first needs it, not with the backend.
  const { answerQuery } = await import('./dns-answer.js');
  const answer = (query: Buffer) => answerQuery(query, o.resolver, o.internalNames, o.hostLoopbackAs);
  // UDP first on an ephemeral port, then TCP on the same one; another program may hold it.
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => udp.once('error', reject).bind(0, host, () => resolve()));
    const port = udp.address().port;
    const tcp = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, host, () => resolve(true));
    });
    if (!bound) {
      udp.close();
      if (attempt < 10) continue;
      throw new Error(`Berth DNS could not bind TCP and UDP on one loopback port (last tried ${port})`);
    }
    serveUdp(udp, answer, o.log);
    serveTcp(tcp, answer, o.log);
    return {
      port,
      close: async () => {
        udp.close();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
      },
    };
  }
}

type Answerer = (query: Buffer) => Promise<Buffer>;

function serveUdp(udp: Socket, answerQuery: Answerer, log: (l: string) => void): void {
  udp.on('error', (e) => log(`dns: udp: ${e.message}`));
  udp.on('message', (query, from) => {
    void answerQuery(query).then((answer) => {
      udp.send(answer.length > MAX_UDP_ANSWER ? truncated(answer) : answer, from.port, from.address);
    });
  });
}

/** The header and question of an answer, with TC set: the client asks again over TCP. */
function truncated(answer: Buffer): Buffer {
  const out = Buffer.from(answer);
  out.writeUInt16BE(out.readUInt16BE(2) | 0x0200, 2);
  out.writeUInt16BE(0, 6); // no answers…
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  // …and only the question: its end is after the name and 4 bytes of type and class.
  let i = 12;
  while (i < out.length) {
    const label = out[i]!;
    if (label === 0) {
      i += 1;
      break;
    }
    if ((label & 0xc0) === 0xc0) {
      i += 2; // a compression pointer ends the name
      break;
    }
    i += label + 1;
  }
  return out.subarray(0, Math.min(out.length, i + 4));
}

/** DNS over TCP: each message is preceded by its 2-byte length (RFC 1035 4.2.2). */
function serveTcp(server: Server, answerQuery: Answerer, log: (l: string) => void): void {
  server.on('error', (e) => log(`dns: tcp: ${e.message}`));
  server.on('connection', (conn) => {
    conn.setTimeout(TCP_IDLE_MS, () => conn.destroy());
    conn.on('error', () => {});
    let pending = Buffer.alloc(0);
    conn.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const query = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + query.length);
        void answerQuery(query).then((answer) => {
          const length = Buffer.alloc(2);
          length.writeUInt16BE(answer.length);
          if (!conn.destroyed) conn.write(Buffer.concat([length, answer]));
        });
      }
    });
  });
}
