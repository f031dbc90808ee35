import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { withIntegratedBerth, type BenchBerth } from './berth-env.js';
import { get } from 'node:http';
import { berthProcesses, commandName } from '../test/helpers/processes.js';
import { processCensus } from './census.js';
import { type BenchRow, interleavedMedians } from './measure.js';
import { sleep } from '../common/process.js';
import { IDLE_SETTLE_MS } from '../common/idle-gc.js';

const CLIENT = join(import.meta.dirname, 'tcp-client.js');

/**
 * A published port against the container's own address inside the engine's network
 * namespace, with one client program run on each side (nsenter into the namespace, so the
 * client, not the path, is the same): connection latency and a 256 MiB download, from the
 * WSL network namespace (the distros') and from the host's loopback, with dockerd's own
 * docker-proxy as the peer. Every figure is a median of interleaved rounds (measure.ts).
 * Also: how often a port answers the first try right after `docker run` / `docker start`
 * returns, and the memory of every process Berth starts.
 */
export async function benchPorts(runs = 5): Promise<{ rows: BenchRow[]; notes: string[] }> {
  return withIntegratedBerth('ports', async (b) => {
    await b.docker(['import', '-', 'busybox:latest'], await busyboxTar());
    await b.docker(['run', '-d', '--name', 'web', '-p', '18090:80', 'busybox', 'sh', '-c', 'mkdir -p /www && echo ok > /www/small && head -c 268435456 /dev/urandom > /www/big && httpd -f -p 80 -h /www']);
    const ip = String((await b.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web'])).stdout).trim();
    const backend = (JSON.parse(String((await b.berth(['status', '--json'])).stdout)) as { pid: number }).pid;
    const processes = berthProcesses(backend, b.env.BERTH_WSL_ROOT!);
    const dockerd = processes.find((p) => commandName(p) === 'dockerd');
    if (!dockerd) throw new Error("bench ports: no dockerd among Berth's processes");
    const wslNs = b.initPid('Ubuntu');

    type Side = { args: string[]; host: string; port: number };
    const engine: Side = { args: ['nsenter', '-t', String(dockerd), '-n', '--'], host: ip, port: 80 };
    const wsl: Side = { args: ['nsenter', '-t', String(wslNs), '-n', '--'], host: '127.0.0.1', port: 18090 };
    const host: Side = { args: [], host: '127.0.0.1', port: 18090 };
    const client = async (side: Side, ...args: string[]) => {
      const argv = [...side.args, process.execPath, CLIENT, args[0]!, side.host, String(side.port), ...args.slice(1)];
      return JSON.parse((await execa(argv[0]!, argv.slice(1))).stdout) as { ms: number; bytes?: number };
    };
    // Wait until httpd answers (the container first writes its 256 MiB file).
    const answers = () =>
      client(engine, 'download', '/small').then(
        (r) => (r.bytes ?? 0) > 0,
        () => false,
      );
    for (let i = 0; i < 300 && !(await answers()); i++) await sleep(100);

    const latency = (side: Side) => async () => (await client(side, 'latency', String(LATENCY_GETS))).ms;
    const download = (side: Side) => async () => {
      const r = await client(side, 'download', '/big');
      if ((r.bytes ?? 0) < 268435456) throw new Error(`bench ports: short download (${r.bytes} bytes)`);
      return r.ms;
    };
    // The peer: dockerd's own userland proxy, relaying a loopback port to the container inside
    // the engine's namespace (what `-p` does with userland-proxy on), with the same client.
    const peerPort = 18091;
    // docker-proxy reports "0\n" (or "1\n" and the error) on fd 3, as dockerd expects.
    const peer = spawn('nsenter', ['-t', String(dockerd), '-n', '--', '/usr/sbin/docker-proxy', '-proto', 'tcp', '-host-ip', '127.0.0.1', '-host-port', String(peerPort), '-container-ip', ip, '-container-port', '80'], {
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
    });
    const peerSide: Side = { ...engine, host: '127.0.0.1', port: peerPort };
    let lat: Record<'direct' | 'wsl' | 'host' | 'peer', number>;
    let dl: Record<'direct' | 'wsl' | 'host' | 'peer', number>;
    try {
      const report = await new Promise<string>((resolve) => {
        let text = '';
        peer.stdio[3]!.on('data', (d: Buffer) => (text += d.toString())).on('close', () => resolve(text));
      });
      if (!report.startsWith('0')) throw new Error(`bench ports: docker-proxy did not start: ${report}`);
      lat = await interleavedMedians({ direct: latency(engine), wsl: latency(wsl), host: latency(host), peer: latency(peerSide) }, runs);
      dl = await interleavedMedians({ direct: download(engine), wsl: download(wsl), host: download(host), peer: download(peerSide) }, runs);
    } finally {
      peer.kill('SIGTERM');
    }
    const firstTries = await countFirstTries(b);
    const mbps = (ms: number) => (256 / (ms / 1000)).toFixed(0);
    // At rest: quiet for two of the daemons' idle checks (common/idle-gc.ts), as a machine
    // sits between bursts; what they hold then is their memory, not the last burst's garbage.
    await sleep(IDLE_SETTLE_MS);
    const census = processCensus(backend, b.root);
    const memory = {
      berth: census.berthMiB,
      engine: census.engineMiB,
      parts: [...census.roles].sort((x, y) => y[1].pssMiB - x[1].pssMiB).map(([role, r]) => `${role} ${r.pssMiB.toFixed(1)}${r.anonMiB >= 1 ? ` (${r.anonMiB.toFixed(1)} anon)` : ''}`),
    };
    const median = `median of ${runs} rounds`;
    return {
      rows: [
        { figure: `published port, connect+GET, from a distro (ms, ${median} of ${LATENCY_GETS})`, berth: lat.wsl, baseline: lat.direct, baselineName: 'container address', goal: undefined },
        { figure: `published port, connect+GET, from the host (ms, ${median} of ${LATENCY_GETS})`, berth: lat.host, baseline: lat.direct, baselineName: 'container address', goal: undefined },
        { figure: `published port, 256 MiB download, from a distro (ms, ${median})`, berth: dl.wsl, baseline: dl.direct, baselineName: 'container address', goal: 1.1 },
        { figure: `published port, 256 MiB download, from the host (ms, ${median})`, berth: dl.host, baseline: dl.direct, baselineName: 'container address', goal: undefined },
        { figure: `peer: docker-proxy in the engine, connect+GET (ms, ${median} of ${LATENCY_GETS})`, berth: lat.peer, baseline: lat.direct, baselineName: 'container address', goal: undefined },
        { figure: `peer: docker-proxy in the engine, 256 MiB download (ms, ${median})`, berth: dl.peer, baseline: dl.direct, baselineName: 'container address', goal: undefined },
        { figure: 'published port from a distro against the peer, connect+GET (ms)', berth: lat.wsl, baseline: lat.peer, baselineName: 'docker-proxy', goal: 1 },
        { figure: 'published port from the host against the peer, connect+GET (ms)', berth: lat.host, baseline: lat.peer, baselineName: 'docker-proxy', goal: 1 },
        { figure: 'published port from a distro against the peer, 256 MiB (ms)', berth: dl.wsl, baseline: dl.peer, baselineName: 'docker-proxy', goal: 1 },
        { figure: 'published port from the host against the peer, 256 MiB (ms)', berth: dl.host, baseline: dl.peer, baselineName: 'docker-proxy', goal: 1 },
        { figure: 'published port: first tries that failed right after docker run/start returned', berth: firstTries.failed, baseline: firstTries.tries, baselineName: 'tries', goal: undefined, limit: 0 },
        {
          figure: "Berth's own memory, 1 integrated distro, at rest after the transfers (MiB PSS)",
          berth: memory.berth,
          baseline: memory.engine,
          baselineName: 'engine: dockerd, containerd, shims',
          goal: undefined,
          limit: 120,
        },
      ],
      notes: [
        `Berth's PSS by process, MiB (of it, the process's own anonymous memory; the rest is its share of mapped files): ${memory.parts.join(', ')}`,
        `published port throughput: ${mbps(dl.wsl)} MiB/s from a distro, ${mbps(dl.host)} MiB/s from the host, ${mbps(dl.peer)} MiB/s through docker-proxy, ${mbps(dl.direct)} MiB/s to the container address`,
        `first tries: ${firstTries.detail}`,
      ],
    };
  });
}

const LATENCY_GETS = 200;

/**
 * `docker run -d -p …` (fixed, random and -P ports) and `docker start`, each followed at once
 * by one GET with no retry, from a distro (through its proxy) and from the host (through the
 * host endpoint): how many of those first tries failed.
 */
async function countFirstTries(b: BenchBerth): Promise<{ tries: number; failed: number; detail: string }> {
  const serve = 'busybox httpd -f -p 80 -h /etc';
  const rounds = 8;
  const script = `first_try() { wget -qO- "http://127.0.0.1:$1/hostname" >/dev/null 2>&1 && echo "$2 ok" || echo "$2 failed"; }
    for i in $(seq 1 ${rounds}); do
      docker run -d --name ft-fixed-$i -p $((18110 + i)):80 ${serve} >/dev/null && first_try $((18110 + i)) fixed
      id=$(docker run -d -p 80 ${serve}) && first_try "$(docker port "$id" 80/tcp | sed -n 's/^0\\.0\\.0\\.0://p')" random
      id=$(docker run -d --expose 80 -P ${serve}) && first_try "$(docker port "$id" 80/tcp | sed -n 's/^0\\.0\\.0\\.0://p')" -P
    done
    for i in $(seq 1 ${rounds}); do docker stop -t 0 ft-fixed-$i >/dev/null && docker start ft-fixed-$i >/dev/null && first_try $((18110 + i)) start; done
    docker rm -f $(docker ps -aq) >/dev/null`;
  const results = String((await b.wsl(['-d', 'Ubuntu', '--exec', 'sh', '-c', script])).stdout)
    .split('\n')
    .filter(Boolean)
    .map((l) => `distro ${l}`);
  const hostDocker = (args: string[]) => execa('docker', ['-H', `unix://${join(b.env.BERTH_HOME!, 'run/docker.sock')}`, ...args], { env: b.env, reject: false });
  for (let i = 1; i <= rounds; i++) {
    const port = 18130 + i;
    await hostDocker(['run', '-d', '--name', `ft-host-${i}`, '-p', `${port}:80`, 'busybox', ...serve.split(' ')]);
    results.push(`host fixed ${(await getOnce(port)) ? 'ok' : 'failed'}`);
    const id = String((await hostDocker(['run', '-d', '-p', '80', 'busybox', ...serve.split(' ')])).stdout).trim();
    const random = Number(/^0\.0\.0\.0:(\d+)$/m.exec(String((await hostDocker(['port', id, '80/tcp'])).stdout))?.[1]);
    results.push(`host random ${(await getOnce(random)) ? 'ok' : 'failed'}`);
  }
  await hostDocker(['rm', '-f', ...Array.from({ length: rounds }, (_, i) => `ft-host-${i + 1}`)]);
  const failed = results.filter((r) => r.endsWith('failed'));
  const kinds = [...new Set(results.map((r) => r.replace(/ (ok|failed)$/, '')))];
  const detail = kinds.map((k) => `${k} ${results.filter((r) => r.startsWith(`${k} `) && r.endsWith('ok')).length}/${results.filter((r) => r.startsWith(`${k} `)).length}`).join(', ');
  return { tries: results.length, failed: failed.length, detail };
}

function getOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/hostname', timeout: 5000 }, (res) => res.resume().on('end', () => resolve(res.statusCode === 200)));
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

export async function busyboxTar(): Promise<Buffer> {
  const r = await execa('sh', ['-c', 'd=$(mktemp -d) && mkdir $d/bin && cp /bin/busybox $d/bin/ && for a in $(/bin/busybox --list | grep -vx busybox); do ln -s busybox $d/bin/$a; done && tar -C $d -c . && rm -rf $d'], {
    encoding: 'buffer',
  });
  return Buffer.from(r.stdout);
}
