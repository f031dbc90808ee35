import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { ENGINE_LINK } from '../installer/network/addresses.js';
import { busyboxTar } from './ports.js';
import { withIntegratedBerth } from './berth-env.js';
import { berthProcesses, commandLine } from '../test/helpers/processes.js';
import { withLinkPeer } from './link-peers.js';
import { type BenchRow, throughputGoal } from './measure.js';

const TCP_CLIENT = join(import.meta.dirname, 'tcp-client.js');
const DNS_CLIENT = join(import.meta.dirname, 'dns-client.js');
const DOWNLOAD_BYTES = 256 * 2 ** 20;
/** The mirror's name: the one outside name the benchmarks may resolve, a few times only. */
const MIRROR = 'deb.debian.org';
const MIRROR_LOOKUPS = 5;

/**
 * The engine link against the host's own loopback, one client program on each side (the
 * host; a container's network namespace, entered with nsenter): a 256 MiB download from a
 * server on the host's 127.0.0.1 (host.docker.internal), and DNS answer time in a container
 * against the host resolving the same name.
 */
export async function benchNetwork(runs = 3): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const chunk = Buffer.alloc(1 << 20);
  // GET: send DOWNLOAD_BYTES; UPLOAD: read DOWNLOAD_BYTES (after the 7-byte line), then close.
  const server = createServer((socket) => {
    socket.once('data', (first: Buffer) => {
      if (first.subarray(0, 7).toString() === 'UPLOAD\n') {
        let got = first.length - 7;
        const done = () => got >= DOWNLOAD_BYTES && socket.end();
        socket.on('data', (d: Buffer) => {
          got += d.length;
          done();
        });
        return void done();
      }
      let left = DOWNLOAD_BYTES;
      const pump = () => {
        while (left > 0) {
          left -= chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
        socket.end();
      };
      pump();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const transfer = async (mode: 'download' | 'upload', prefix: string[], host: string) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const argv = [...prefix, process.execPath, TCP_CLIENT, mode, host, String(port), mode === 'download' ? '/' : String(DOWNLOAD_BYTES)];
      const r = JSON.parse((await execa(argv[0]!, argv.slice(1))).stdout) as { ms: number; bytes?: number };
      if ((r.bytes ?? 0) < DOWNLOAD_BYTES) throw new Error(`bench network: short transfer from ${host} (${r.bytes} bytes)`);
      times.push(r.ms);
    }
    return times.sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
  };
  try {
    // The helpers as peers, on the same NATed path, outside Berth.
    const peers: Record<string, { down?: number; up?: number }> = {};
    const peerNotes: string[] = [];
    for (const helper of ['slirp4netns', 'pasta'] as const) {
      // A helper that breaks the connection is a finding, not the end of the run.
      const measure = async (mode: 'download' | 'upload', run: string[], gw: string) =>
        transfer(mode, run, gw).catch((e: Error) => void peerNotes.push(`peer ${helper}, ${mode}: failed (${e.message.split('\n').find((l) => /Error|ECONN/.test(l)) ?? e.message.split('\n')[0]})`));
      peers[helper] = await withLinkPeer(helper, async (run, gw) => ({ down: (await measure('download', run, gw)) ?? undefined, up: (await measure('upload', run, gw)) ?? undefined }));
    }
    const berth = await withIntegratedBerth('network', async (b) => {
      await b.docker(['import', '-', 'busybox:latest'], await busyboxTar());
      await b.docker(['run', '-d', '--name', 'netbench', 'busybox', 'sleep', '3607']);
      const backend = (JSON.parse(String((await b.berth(['status', '--json'])).stdout)) as { pid: number }).pid;
      const container = berthProcesses(backend, b.env.BERTH_WSL_ROOT!).find((p) => commandLine(p).trim() === 'sleep 3607');
      if (!container) throw new Error("bench network: the container's process is not among Berth's");
      const inContainer = ['nsenter', '-t', String(container), '-n', '--'];
      const run = async (prefix: string[], script: string, args: string[]) => {
        const argv = [...prefix, process.execPath, script, ...args];
        return JSON.parse((await execa(argv[0]!, argv.slice(1))).stdout) as { ms: number; bytes?: number };
      };
      const viaLink = await transfer('download', inContainer, ENGINE_LINK.gateway);
      const onHost = await transfer('download', [], '127.0.0.1');
      const upLink = await transfer('upload', inContainer, ENGINE_LINK.gateway);
      const upHost = await transfer('upload', [], '127.0.0.1');
      const dnsMirror = (await run(inContainer, DNS_CLIENT, ['query', ENGINE_LINK.gateway, MIRROR, String(MIRROR_LOOKUPS)])).ms;
      const hostMirror = (await run([], DNS_CLIENT, ['lookup', MIRROR, String(MIRROR_LOOKUPS)])).ms;
      const dnsLocal = (await run(inContainer, DNS_CLIENT, ['query', ENGINE_LINK.gateway, 'localhost', '200'])).ms;
      const hostLocal = (await run([], DNS_CLIENT, ['lookup', 'localhost', '200'])).ms;
      const gbit = (ms: number) => ((DOWNLOAD_BYTES * 8) / (ms / 1000) / 1e9).toFixed(1);
      const mibps = (ms: number) => (DOWNLOAD_BYTES / 2 ** 20 / (ms / 1000)).toFixed(0);
      return {
        rows: [
          { figure: 'engine link, 256 MiB from a host service to a container (ms)', berth: viaLink, baseline: onHost, baselineName: 'host loopback', ...throughputGoal(0.5) },
          { figure: 'engine link, 256 MiB from a container to a host service (ms)', berth: upLink, baseline: upHost, baselineName: 'host loopback', ...throughputGoal(0.5) },
          { figure: `DNS answer in a container, ${MIRROR} (ms, median of ${MIRROR_LOOKUPS})`, berth: dnsMirror, baseline: hostMirror, baselineName: 'host getaddrinfo', goal: 2 },
          { figure: 'DNS answer in a container, a hosts-file name (ms, median of 200)', berth: dnsLocal, baseline: hostLocal, baselineName: 'host getaddrinfo', goal: undefined },
        ],
        notes: [
          `network: engine link down ${mibps(viaLink)} MiB/s (${gbit(viaLink)} Gbit/s), up ${mibps(upLink)} MiB/s (${gbit(upLink)} Gbit/s); host loopback ${mibps(onHost)} / ${mibps(upHost)} MiB/s. TCP crosses the link through berth-relay outbound (REDIRECT in the engine, a splice relay on the host side); UDP through slirp4netns, MTU 65520 (docker0 too).`,
        ],
        onHost: { down: onHost, up: upHost },
      };
    });
    const peerRows: BenchRow[] = Object.entries(peers).flatMap(([helper, p]) => [
      ...(p.down !== undefined ? [{ figure: `peer: ${helper} alone, NATed namespace, 256 MiB down (ms)`, berth: p.down, baseline: berth.onHost.down, baselineName: 'host loopback', ...throughputGoal(0.5) }] : []),
      ...(p.up !== undefined ? [{ figure: `peer: ${helper} alone, NATed namespace, 256 MiB up (ms)`, berth: p.up, baseline: berth.onHost.up, baselineName: 'host loopback', ...throughputGoal(0.5) }] : []),
    ]);
    return { rows: [...berth.rows, ...peerRows], notes: [...berth.notes, ...peerNotes] };
  } finally {
    server.close();
  }
}
