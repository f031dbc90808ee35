import { listenUnix, ROOT_ONLY } from '../unix-socket.js';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { listenPublishedUdp, relayDatagrams, type PublishedListener } from './forward-udp.js';
import type { TargetCheck } from './published-targets.js';
import { TARGET_WAIT_MS, type TargetSlot } from './target-slot.js';
import type { RelayListeners } from './native-relay.js';
import type { Protocol } from './claim-messages.js';

export type { ForwardTarget } from './target-slot.js';

/**
 * The engine side of published UDP ports: a Unix socket in the shared area (the stand-in
 * for hypervisor sockets). Each connection starts with `udp IP PORT\n`, then carries framed
 * datagrams, one flow per stream, to that address inside the engine's network namespace.
 * (TCP arrives at berth-relay's socket instead: see native-relay.ts.)
 */
export async function serveUdpForwarder(path: string, log: (line: string) => void, allowed: TargetCheck): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (client: Socket) => {
    client.on('error', () => {}); // a client that vanishes is its own loss, never the supervisor's
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > 256) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      const m = /^udp (\S+) (\d+)$/.exec(head.subarray(0, nl).toString());
      if (!m) return void client.destroy();
      const [, ip, port] = m as unknown as [string, string, string];
      allowed('udp', ip, Number(port)).then(
        (ok) => {
          if (ok) return relayDatagrams(client, { ip, port: Number(port) }, head.subarray(nl + 1), log);
          log(`refused to forward to udp ${ip}:${port}: no running container publishes it`);
          client.destroy();
        },
        (e: Error) => {
          log(`refused to forward to udp ${ip}:${port}: cannot check the published ports (${e.message})`);
          client.destroy();
        },
      );
    };
    client.on('data', onData);
  });
  // Root only: it opens connections inside the engine's namespace (a socket left by a killed engine is replaced).
  await listenUnix(server, path, ROOT_ONLY);
  return server;
}

/**
 * A listener on one side (the host's loopback, or the WSL network namespace) whose
 * connections are carried to the forwarder with the target's header. A connection that
 * arrives before the target is known (its container is starting) waits for it.
 */
export function listenPublished(address: { host: string; port: number }, target: TargetSlot, connectForwarder: () => Promise<Duplex>): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (client) => {
    client.pause();
    client.on('error', () => client.destroy());
    const carry = async () => {
      const t = await target.wait(TARGET_WAIT_MS);
      if (!t || client.destroyed) return void client.destroy();
      const up = await connectForwarder();
      up.write(`tcp ${t.ip} ${t.port}\n`);
      client.pipe(up);
      up.pipe(client);
      client.resume();
      const close = () => {
        client.destroy();
        up.destroy();
      };
      client.on('error', close);
      up.on('error', close);
    };
    carry().catch(() => client.destroy());
  });
  return new Promise((resolve, reject) => server.once('error', reject).listen(address.port, address.host, () => resolve(server)));
}

export type { Protocol };

/** How one side (the host, or the WSL network namespace) reaches the engine's forwarders. */
export interface ForwarderLink {
  /** berth-relay's listeners, where this side can open the forwarder socket itself. */
  relay?: RelayListeners;
  /** A stream to the TCP forwarder, for Node's own listener (where there is no relay: Windows). */
  connectTcp: () => Promise<Duplex>;
  connectUdp: () => Promise<Duplex>;
}

/** A published port of either protocol, bound on one side and carried to the forwarder. */
export function listenPublishedPort(address: { host: string; port: number; proto: Protocol }, target: TargetSlot, link: ForwarderLink): Promise<PublishedListener> {
  if (address.proto === 'udp') return listenPublishedUdp(address, () => target.get(), link.connectUdp);
  if (link.relay) return link.relay.listen(address, target);
  return listenPublished(address, target, link.connectTcp);
}
