import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { withIntegratedBerth } from './berth-env.js';
import { berthProcesses, commandLine, commandName, rssKiB } from '../test/helpers/processes.js';
import { type BenchRow, throughputGoal } from './measure.js';

const CLIENT = join(import.meta.dirname, 'tcp-client.js');

/**
 * A published port against the container's own address inside the engine's network
 * namespace, with one client program run on each side (nsenter into the namespace, so the
 * client, not the path, is the same): connection latency and a 256 MiB download, from the
 * WSL network namespace (the distros') and from the host's loopback.
 */
export async function benchPorts(runs = 3): Promise<{ rows: BenchRow[]; notes: string[] }> {
  return withIntegratedBerth('ports', async (b) => {
    await b.docker(['import', '-', 'busybox:latest'], await busyboxTar());
    await b.docker(['run', '-d', '--name', 'web', '-p', '18090:80', 'busybox', 'sh', '-c',
      'mkdir -p /www && echo ok > /www/small && head -c 268435456 /dev/urandom > /www/big && httpd -f -p 80 -h /www']);
    const ip = String((await b.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web'])).stdout).trim();
    const backend = (JSON.parse(String((await b.berth(['status', '--json'])).stdout)) as { pid: number }).pid;
    const processes = berthProcesses(backend, b.env.BERTH_WSL_ROOT!);
    const dockerd = processes.find((p) => commandName(p) === 'dockerd');
    if (!dockerd) throw new Error('bench ports: no dockerd among Berth\'s processes');
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
    const answers = () => client(engine, 'download', '/small').then((r) => (r.bytes ?? 0) > 0, () => false);
    for (let i = 0; i < 300 && !(await answers()); i++) await new Promise((r) => setTimeout(r, 100));

    const latency = async (side: Side) => (await client(side, 'latency', '500')).ms;
    const download = async (side: Side) => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await client(side, 'download', '/big');
        if ((r.bytes ?? 0) < 268435456) throw new Error(`bench ports: short download (${r.bytes} bytes)`);
        times.push(r.ms);
      }
      return times.sort((x, y) => x - y)[Math.floor(times.length / 2)]!;
    };
    const direct = { latency: await latency(engine), download: await download(engine) };
    const viaWsl = { latency: await latency(wsl), download: await download(wsl) };
    const viaHost = { latency: await latency(host), download: await download(host) };
    // The peer: dockerd's own userland proxy, relaying a loopback port to the container inside
    // the engine's namespace (what `-p` does with userland-proxy on), with the same client.
    const peerPort = 18091;
    // docker-proxy reports "0\n" (or "1\n" and the error) on fd 3, as dockerd expects.
    const peer = spawn('nsenter', ['-t', String(dockerd), '-n', '--', '/usr/sbin/docker-proxy', '-proto', 'tcp', '-host-ip', '127.0.0.1', '-host-port', String(peerPort), '-container-ip', ip, '-container-port', '80'], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
    const peerSide: Side = { ...engine, host: '127.0.0.1', port: peerPort };
    let viaPeer: { latency: number; download: number };
    try {
      const report = await new Promise<string>((resolve) => {
        let text = '';
        peer.stdio[3]!.on('data', (d: Buffer) => (text += d.toString())).on('close', () => resolve(text));
      });
      if (!report.startsWith('0')) throw new Error(`bench ports: docker-proxy did not start: ${report}`);
      viaPeer = { latency: await latency(peerSide), download: await download(peerSide) };
    } finally {
      peer.kill('SIGTERM');
    }
    const mbps = (ms: number) => (256 / (ms / 1000)).toFixed(0);
    const memory = berthMemory(backend, processes);
    return {
      rows: [
        { figure: 'published port, connect+GET, from a distro (ms, median of 500)', berth: viaWsl.latency, baseline: direct.latency, baselineName: 'container address', goal: undefined },
        { figure: 'published port, connect+GET, from the host (ms, median of 500)', berth: viaHost.latency, baseline: direct.latency, baselineName: 'container address', goal: undefined },
        { figure: 'published port, 256 MiB download, from a distro (ms)', berth: viaWsl.download, baseline: direct.download, baselineName: 'container address', ...throughputGoal(0.9) },
        { figure: 'published port, 256 MiB download, from the host (ms)', berth: viaHost.download, baseline: direct.download, baselineName: 'container address', ...throughputGoal(0.9) },
        { figure: 'peer: docker-proxy in the engine, connect+GET (ms, median of 500)', berth: viaPeer.latency, baseline: direct.latency, baselineName: 'container address', goal: undefined },
        { figure: 'peer: docker-proxy in the engine, 256 MiB download (ms)', berth: viaPeer.download, baseline: direct.download, baselineName: 'container address', goal: undefined },
        { figure: 'published port from a distro against the peer, connect+GET (ms)', berth: viaWsl.latency, baseline: viaPeer.latency, baselineName: 'docker-proxy', goal: 1 },
        { figure: 'published port from a distro against the peer, 256 MiB (ms)', berth: viaWsl.download, baseline: viaPeer.download, baselineName: 'docker-proxy', ...throughputGoal(1) },
        { figure: "Berth's own RSS, 1 integrated distro (MiB)", berth: memory.berth, baseline: memory.engine, baselineName: 'dockerd + containerd', goal: undefined, limit: 120 },
      ],
      notes: [
        `Berth's RSS by process (MiB): ${memory.parts.join(', ')}; plus ${memory.wslStandIns.toFixed(0)} MiB in berth-wsl clients and inits (standing in for wsl.exe and WSL's init)`,
        `published port throughput: ${mbps(viaWsl.download)} MiB/s from a distro, ${mbps(viaHost.download)} MiB/s from the host, ${mbps(viaPeer.download)} MiB/s through docker-proxy, ${mbps(direct.download)} MiB/s to the container address`,
      ],
    };
  });
}

/**
 * Resident memory of Berth's own processes (the backend, the agent's, the proxies) against
 * the engine's (dockerd + containerd), in MiB. berth-wsl clients and distro inits stand in for
 * wsl.exe and WSL itself and are reported apart.
 */
function berthMemory(backend: number, processes: number[]): { berth: number; engine: number; wslStandIns: number; parts: string[] } {
  let berth = 0;
  let engine = 0;
  let wslStandIns = 0;
  const parts: string[] = [];
  for (const pid of processes) {
    const cmd = commandLine(pid);
    const mib = rssKiB(pid) / 1024;
    // (unshare and tini carry the supervisor's command line as arguments: counted by name apart)
    const agent = /\/node \S*berth-agent\.mjs (\S+)/.exec(cmd)?.[1];
    const role = pid === backend ? 'backend' : agent ?? (cmd.includes('berth-proxy.mjs') ? 'proxy' : cmd.startsWith('sh -c trap') ? 'attached sh' : undefined);
    if (role) {
      berth += mib;
      parts.push(`${role} ${mib.toFixed(0)}`);
    } else if (['dockerd', 'containerd'].includes(commandName(pid))) engine += mib;
    else if (cmd.includes('bin/berth-wsl') || cmd.includes('berth-init')) wslStandIns += mib;
  }
  return { berth, engine, wslStandIns, parts };
}

export async function busyboxTar(): Promise<Buffer> {
  const r = await execa('sh', ['-c', 'd=$(mktemp -d) && mkdir $d/bin && cp /bin/busybox $d/bin/ && for a in $(/bin/busybox --list | grep -vx busybox); do ln -s busybox $d/bin/$a; done && tar -C $d -c . && rm -rf $d'], { encoding: 'buffer' });
  return Buffer.from(r.stdout);
}
