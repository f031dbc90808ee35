import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatagramReader, frameDatagram } from '../../common/port-forward/datagram-frames.js';
import { listenPublishedPort, serveUdpForwarder, type ForwarderLink } from '../../common/port-forward/forward.js';
import type { PublishedListener } from '../../common/port-forward/forward-udp.js';
import { bindFailureMessage } from '../../installer/port-errors.js';
import { TargetSlot } from '../../common/port-forward/target-slot.js';
import { freePort } from '../helpers/host-services.js';

// The UDP forwarding chain on one machine: listener → forwarder socket → a target address
// (TCP is berth-relay's: native-relay.test.ts). The integration tests run both across the
// engine's network namespace.
const dir = mkdtempSync(join(tmpdir(), 'berth-forward-'));
const forwarderPath = join(dir, 'forward.sock');
let forwarder: Server;
let tcpEcho: Server;
let udpEcho: UdpSocket;
const listeners: PublishedListener[] = [];
const toForwarder = async () => connect(forwarderPath);
const nodeLink: ForwarderLink = { connectTcp: toForwarder, connectUdp: toForwarder };

/** A port nobody listens on right now (for TCP and UDP on loopback). */
function askUdp(host: string, port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no answer to ${message}`));
    }, 3000);
    client.on('message', (m) => {
      clearTimeout(timer);
      client.close();
      resolve(m.toString());
    });
    client.send(message, port, host);
  });
}

beforeAll(async () => {
  // Published, for these tests: the echo servers (a real engine asks the daemon).
  forwarder = await serveUdpForwarder(
    forwarderPath,
    () => undefined,
    async (_proto, ip, port) => ip !== '127.0.0.2' && port !== 9,
  );
  tcpEcho = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => tcpEcho.listen(0, '127.0.0.1', r));
  udpEcho = createSocket('udp4');
  udpEcho.on('message', (m, from) => udpEcho.send(Buffer.concat([Buffer.from('echo:'), m]), from.port, from.address));
  await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', r));
});

afterAll(() => {
  for (const l of listeners) l.close();
  forwarder?.close();
  tcpEcho?.close();
  udpEcho?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('datagram framing', () => {
  it('gives back each datagram whole, however the stream cuts the bytes', () => {
    const sent = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(65_507, 7), Buffer.from('last')];
    const stream = Buffer.concat(sent.map(frameDatagram));
    const got: Buffer[] = [];
    const reader = new DatagramReader((d) => got.push(Buffer.from(d)));
    for (let i = 0; i < stream.length; i += 1000) reader.push(stream.subarray(i, i + 1000));
    expect(got.map((d) => d.length)).toEqual([1, 0, 65_507, 4]);
    expect(got[3]!.toString()).toBe('last');
  });
});

describe('published UDP ports through the forwarder socket', () => {
  it('carries UDP datagrams and sends each answer back to the client that asked, on IPv4 and IPv6 loopback', async () => {
    const port = await freePort();
    const target = { ip: '127.0.0.1', port: (udpEcho.address() as { port: number }).port };
    listeners.push(await listenPublishedPort({ host: '127.0.0.1', port, proto: 'udp' }, new TargetSlot(target), nodeLink));
    listeners.push(await listenPublishedPort({ host: '::1', port, proto: 'udp' }, new TargetSlot(target), nodeLink));
    const answers = await Promise.all([askUdp('127.0.0.1', port, 'one'), askUdp('127.0.0.1', port, 'two'), askUdp('::1', port, 'six')]);
    expect(answers).toEqual(['echo:one', 'echo:two', 'echo:six']);
  });

  it('refuses a UDP port that is already bound, with the code the error message maps', async () => {
    const port = await freePort();
    const squatter = createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(port, '127.0.0.1', r));
    try {
      const error = await listenPublishedPort({ host: '127.0.0.1', port, proto: 'udp' }, new TargetSlot(), nodeLink).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e.code,
      );
      expect(error).toBe('EADDRINUSE');
    } finally {
      squatter.close();
    }
  });
});

describe('bind failures read as what to do', () => {
  const udp = { host: '127.0.0.1', port: 53, proto: 'udp' as const };
  it('names the port, the side and the fix', () => {
    expect(bindFailureMessage(udp, 'host', 'EADDRINUSE', '')).toBe('Berth: port 53/udp is already in use on the host (127.0.0.1:53); stop what uses it, or publish another host port (-p OTHER:…)');
    expect(bindFailureMessage({ ...udp, proto: 'tcp', port: 80 }, 'wsl', 'EACCES', '')).toBe(
      "Berth: not allowed to bind port 80 in WSL (127.0.0.1:80 in the distros' network): ports below 1024 are privileged; run Berth as root, lower net.ipv4.ip_unprivileged_port_start, or publish a port from 1024 up",
    );
    expect(bindFailureMessage({ ...udp, host: '::1' }, 'host', 'EADDRNOTAVAIL', '')).toContain('is IPv6 disabled?');
  });
});
