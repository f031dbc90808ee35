import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { withIntegratedBerth } from './berth-env.js';
import { berthProcesses, commandLine } from '../test/helpers/processes.js';
import { startSocatRelay } from './socat-relay.js';
import { busyboxTar } from './ports.js';
import { type BenchRow, interleavedMedians, throughputGoal, timed, timeRuns } from './measure.js';

const ROUNDS = 5;

function ping(socketPath: string, agent?: Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/_ping', agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Seconds of busybox `time`'s "real 0m 1.23s". */
function realSeconds(stderr: string): number {
  const m = /real\s+(\d+)m\s*([\d.]+)s/.exec(stderr);
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

/**
 * Through the proxy in an integrated distro vs straight to the daemon's socket, same run:
 * /_ping round trips, a large streamed request body (docker import), 200 clients × 500
 * requests, and reading a 20k-file tree through a translated bind mount vs in the distro.
 */
export async function benchProxy(): Promise<{ rows: BenchRow[]; notes: string[] }> {
  return withIntegratedBerth('proxy', async ({ root, env, wsl, berth, daemonSocket: direct }) => {
    // This world's proxy, found in its backend's tree (never by name machine-wide).
    const backend = (JSON.parse(String((await berth(['status', '--json'])).stdout)) as { pid: number }).pid;
    const proxyPid = berthProcesses(backend, env.BERTH_WSL_ROOT!).find((pid) => commandLine(pid).includes('berth-proxy.mjs serve --distro Ubuntu'));
    if (!proxyPid) throw new Error("bench proxy: no proxy for Ubuntu among Berth's processes");
    const viaProxy = `/proc/${proxyPid}/root/var/run/docker.sock`;
    // The peer: socat relaying a socket of its own to the same daemon socket, byte for byte.
    const socat = await startSocatRelay(join(root, 'socat.sock'), direct);

    // Each round: the median of 100 round trips; rounds interleaved (measure.ts).
    const pings = (socket: string) => () => timeRuns(100, undefined, () => ping(socket));
    const { proxy: pingProxy, direct: pingDirect, socat: pingSocat } = await interleavedMedians({ proxy: pings(viaProxy), direct: pings(direct), socat: pings(socat.path) }, ROUNDS);

    // 200 clients × 500 requests through the proxy: errors counted, not timed against a goal.
    const agent = new Agent({ keepAlive: true, maxSockets: 200 });
    let errors = 0;
    const kinds = new Map<string, number>();
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        for (let i = 0; i < 500; i++) {
          await ping(viaProxy, agent).catch((e: NodeJS.ErrnoException) => {
            errors++;
            kinds.set(e.code ?? e.message, (kinds.get(e.code ?? e.message) ?? 0) + 1);
          });
        }
      }),
    );
    const loadSeconds = (Date.now() - t0) / 1000;
    agent.destroy();

    await execa('docker', ['-H', `unix://${direct}`, 'import', '-', 'bb:bench'], { input: await busyboxTar() });
    // Large bodies streamed both ways: docker load of a 1 GiB image, docker cp of a 1 GiB file.
    const blob = join(root, 'blob');
    await execa('sh', ['-c', `mkdir -p ${blob}/d && head -c 1073741824 /dev/urandom > ${blob}/d/data && tar -C ${blob} -cf ${blob}.tar d`]);
    const cli = (socket: string, args: string[]) => execa('docker', ['-H', `unix://${socket}`, ...args], { env });
    await cli(direct, ['import', `${blob}.tar`, 'blob:latest']);
    await cli(direct, ['save', '-o', `${blob}.image.tar`, 'blob:latest']);
    await cli(direct, ['create', '--name', 'cp-target', 'bb:bench', 'true']).catch(() => undefined);
    // The image is removed before each load, outside the timed part.
    const load = (socket: string) =>
      timed(
        () => cli(socket, ['load', '-i', `${blob}.image.tar`]),
        () => cli(direct, ['rmi', '-f', 'blob:latest']).catch(() => undefined),
      );
    const { proxy: loadProxy, direct: loadDirect, socat: loadSocat } = await interleavedMedians({ proxy: load(viaProxy), direct: load(direct), socat: load(socat.path) }, ROUNDS);
    const cp = (socket: string) => timed(() => cli(socket, ['cp', `${blob}/d/data`, 'cp-target:/data']));
    const { proxy: cpProxy, direct: cpDirect, socat: cpSocat } = await interleavedMedians({ proxy: cp(viaProxy), direct: cp(direct), socat: cp(socat.path) }, ROUNDS);
    await socat.stop();
    rmSync(blob, { recursive: true, force: true });
    rmSync(`${blob}.tar`, { force: true });
    rmSync(`${blob}.image.tar`, { force: true });

    // 20k small files read through a translated bind mount, vs in the distro itself.
    await wsl([
      '-d',
      'Ubuntu',
      '--exec',
      'sh',
      '-c',
      'mkdir -p /root/tree && cd /root/tree && i=0; while [ $i -lt 200 ]; do mkdir d$i; j=0; while [ $j -lt 100 ]; do echo file$i-$j > d$i/f$j; j=$((j+1)); done; i=$((i+1)); done',
    ]);
    const readCmd = (dir: string) => `time sh -c 'for i in $(seq 20); do find ${dir} -type f -exec cat {} + >/dev/null; done'`;
    // The time inside each side (busybox's own `time`, the same binary on both), so a
    // container's start is not counted; interleaved like every other row, one run each was noise.
    const readTime = (argv: string[]) => async () => {
      const { stderr } = await wsl(['-d', 'Ubuntu', '--exec', ...argv]);
      const seconds = realSeconds(stderr as string);
      // A NaN would sort anywhere in the median and give a wrong figure without a word.
      if (Number.isNaN(seconds)) throw new Error(`bench proxy: busybox time printed no "real" line: ${String(stderr).slice(-300)}`);
      return seconds;
    };
    const { container: inContainer, distro: inDistro } = await interleavedMedians(
      {
        container: readTime(['docker', 'run', '--rm', '-v', '/root/tree:/t', 'bb:bench', 'sh', '-c', readCmd('/t')]),
        distro: readTime(['sh', '-c', readCmd('/root/tree')]),
      },
      ROUNDS,
    );

    return {
      rows: [
        { figure: `/_ping round trip (ms, median of ${ROUNDS} rounds of 100)`, berth: pingProxy, baseline: pingDirect, baselineName: 'daemon socket', goal: 1.15 },
        { figure: `docker load 1 GiB (ms, median of ${ROUNDS})`, berth: loadProxy, baseline: loadDirect, baselineName: 'daemon socket', goal: 1.05 },
        { figure: `docker cp 1 GiB in (ms, median of ${ROUNDS})`, berth: cpProxy, baseline: cpDirect, baselineName: 'daemon socket', goal: 1.05 },
        { figure: `peer: socat relay, /_ping round trip (ms, median of ${ROUNDS} rounds of 100)`, berth: pingSocat, baseline: pingDirect, baselineName: 'daemon socket', goal: undefined },
        { figure: `peer: socat relay, docker load 1 GiB (ms, median of ${ROUNDS})`, berth: loadSocat, baseline: loadDirect, baselineName: 'daemon socket', goal: undefined },
        { figure: `peer: socat relay, docker cp 1 GiB in (ms, median of ${ROUNDS})`, berth: cpSocat, baseline: cpDirect, baselineName: 'daemon socket', goal: undefined },
        { figure: '/_ping round trip, Berth against the peer (ms)', berth: pingProxy, baseline: pingSocat, baselineName: 'socat relay', goal: 1 },
        { figure: 'docker cp 1 GiB in, Berth against the peer (ms)', berth: cpProxy, baseline: cpSocat, baselineName: 'socat relay', ...throughputGoal(1) },
        { figure: `read 20k files x20 via bind mount (s, median of ${ROUNDS})`, berth: inContainer, baseline: inDistro, baselineName: 'in the distro', ...throughputGoal(0.95) },
      ],
      notes: [`200 clients x 500 /_ping through the proxy: ${errors} errors${errors ? ` (${[...kinds].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''} in ${loadSeconds.toFixed(1)} s`],
    };
  });
}
