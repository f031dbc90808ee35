import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Duplex } from 'node:stream';
import { DatagramReader, frameDatagram } from './datagram-frames.js';
import type { ForwardTarget } from './forward.js';

/** A UDP "connection" is forgotten after this long without a datagram either way (docker-proxy keeps 90 s). */
export const UDP_FLOW_IDLE_MS = 90_000;

const familyOf = (address: string) => (isIPv6(address) ? 'udp6' : 'udp4');

/** Something a published port holds open until it is unpublished. */
export interface PublishedListener {
  close(): void;
}

/**
 * The engine side of one UDP flow: datagrams framed on `stream` are sent from a socket
 * connected to the target (inside the engine's namespace), and its answers framed back.
 */
export function relayDatagrams(stream: Duplex, target: ForwardTarget, leftover: Buffer, log: (line: string) => void): void {
  const socket = createSocket(familyOf(target.ip));
  const reader = new DatagramReader((payload) => socket.send(payload));
  const end = () => {
    socket.close();
    stream.destroy();
  };
  socket.on('error', (e) => {
    log(`udp forward to ${target.ip}:${target.port}: ${e.message}`);
    end();
  });
  socket.on('message', (payload) => stream.write(frameDatagram(payload)));
  socket.connect(target.port, target.ip, () => {
    stream.on('data', (chunk: Buffer) => reader.push(chunk));
    if (leftover.length) reader.push(leftover);
    stream.resume();
  });
  stream.on('close', () => {
    try {
      socket.close();
    } catch {
      // already closed
    }
  });
  stream.on('error', end);
}

interface Flow {
  stream?: Duplex;
  queued: Buffer[];
  idle: NodeJS.Timeout;
}

/**
 * A UDP port bound on one side (host loopback or the WSL network namespace). Each client
 * address gets its own stream to the forwarder, so answers go back to whoever asked.
 */
export function listenPublishedUdp(
  address: { host: string; port: number },
  target: () => ForwardTarget | undefined,
  connectForwarder: () => Promise<Duplex>,
): Promise<PublishedListener> {
  const socket = createSocket({ type: familyOf(address.host) });
  const flows = new Map<string, Flow>();

  const forget = (key: string) => {
    const flow = flows.get(key);
    if (!flow) return;
    flows.delete(key);
    clearTimeout(flow.idle);
    flow.stream?.destroy();
  };
  const touch = (key: string, flow: Flow) => {
    clearTimeout(flow.idle);
    flow.idle = setTimeout(() => forget(key), UDP_FLOW_IDLE_MS);
  };

  const openFlow = (key: string, client: RemoteInfo, to: ForwardTarget): Flow => {
    const flow: Flow = { queued: [], idle: setTimeout(() => forget(key), UDP_FLOW_IDLE_MS) };
    flows.set(key, flow);
    connectForwarder().then(
      (stream) => {
        if (flows.get(key) !== flow) return void stream.destroy();
        flow.stream = stream;
        stream.write(`udp ${to.ip} ${to.port}\n`);
        for (const payload of flow.queued) stream.write(frameDatagram(payload));
        flow.queued = [];
        const reader = new DatagramReader((payload) => {
          touch(key, flow);
          socket.send(payload, client.port, client.address);
        });
        stream.on('data', (chunk: Buffer) => reader.push(chunk));
        stream.on('close', () => flows.get(key) === flow && forget(key));
        stream.on('error', () => stream.destroy());
      },
      () => forget(key),
    );
    return flow;
  };

  socket.on('message', (payload, client) => {
    const to = target();
    if (!to) return; // not running yet: dropped, as UDP may be
    const key = `${client.address}:${client.port}`;
    const flow = flows.get(key) ?? openFlow(key, client, to);
    touch(key, flow);
    if (flow.stream) flow.stream.write(frameDatagram(payload));
    else flow.queued.push(payload);
  });

  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: address.port, address: address.host, exclusive: true }, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined); // a send to a vanished client: nothing to do
      resolve({
        close: () => {
          for (const key of [...flows.keys()]) forget(key);
          socket.close();
        },
      });
    });
  });
}
