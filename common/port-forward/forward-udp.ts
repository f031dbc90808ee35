import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Duplex } from 'node:stream';
import { DatagramReader, frameDatagram } from './datagram-frames.js';
import type { ForwardTarget } from './target-slot.js';

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

/** The clients of one published UDP port: a forwarder stream per client address, dropped after UDP_FLOW_IDLE_MS of quiet. */
class UdpFlows {
  private readonly flows = new Map<string, Flow>();

  constructor(
    private readonly socket: Socket,
    private readonly connectForwarder: () => Promise<Duplex>,
  ) {}

  send(client: RemoteInfo, to: ForwardTarget, payload: Buffer): void {
    const key = `${client.address}:${client.port}`;
    const flow = this.flows.get(key) ?? this.open(key, client, to);
    this.touch(key, flow);
    if (flow.stream) flow.stream.write(frameDatagram(payload));
    else flow.queued.push(payload);
  }

  closeAll(): void {
    for (const key of [...this.flows.keys()]) this.forget(key);
  }

  private forget(key: string): void {
    const flow = this.flows.get(key);
    if (!flow) return;
    this.flows.delete(key);
    clearTimeout(flow.idle);
    flow.stream?.destroy();
  }

  private touch(key: string, flow: Flow): void {
    clearTimeout(flow.idle);
    flow.idle = setTimeout(() => this.forget(key), UDP_FLOW_IDLE_MS);
  }

  private open(key: string, client: RemoteInfo, to: ForwardTarget): Flow {
    const flow: Flow = { queued: [], idle: setTimeout(() => this.forget(key), UDP_FLOW_IDLE_MS) };
    this.flows.set(key, flow);
    this.connectForwarder().then(
      (stream) => {
        if (this.flows.get(key) !== flow) return void stream.destroy();
        flow.stream = stream;
        stream.write(`udp ${to.ip} ${to.port}\n`);
        for (const payload of flow.queued) stream.write(frameDatagram(payload));
        flow.queued = [];
        const reader = new DatagramReader((payload) => {
          this.touch(key, flow);
          this.socket.send(payload, client.port, client.address);
        });
        stream.on('data', (chunk: Buffer) => reader.push(chunk));
        stream.on('close', () => this.flows.get(key) === flow && this.forget(key));
        stream.on('error', () => stream.destroy());
      },
      () => this.forget(key),
    );
    return flow;
  }
}

/**
 * A UDP port bound on one side (host loopback or the WSL network namespace). Each client
 * address gets its own stream to the forwarder, so answers go back to whoever asked.
 */
export function listenPublishedUdp(address: { host: string; port: number }, target: () => ForwardTarget | undefined, connectForwarder: () => Promise<Duplex>): Promise<PublishedListener> {
  const socket = createSocket({ type: familyOf(address.host) });
  const flows = new UdpFlows(socket, connectForwarder);
  socket.on('message', (payload, client) => {
    const to = target();
    if (to) flows.send(client, to, payload); // not running yet: dropped, as UDP may be
  });

  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: address.port, address: address.host, exclusive: true }, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined); // a send to a vanished client: nothing to do
      resolve({
        close: () => {
          flows.closeAll();
          socket.close();
        },
      });
    });
  });
}
