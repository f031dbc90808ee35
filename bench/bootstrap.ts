import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { dockerPing } from '../common/docker-api.js';
import { buildImages } from '../installer/images/build.js';
import { type BenchRow, interleavedMedians, median, timed, timeRuns } from './measure.js';
import { BERTH_WSL } from './wsl-host.js';
import { AGENT_COMMAND } from '../common/shared-area.js';
import { DEFAULT_POLICY } from '../bootstrap-distro/agent/service.js';
import { sleep } from '../common/process.js';
import { IPTABLES_TOOLS, LEGACY_XTABLES } from '../common/engine-iptables.js';
import { commandName, distroInitPid, processTree, worldProcesses } from '../test/helpers/processes.js';

const AGENT = AGENT_COMMAND;

/**
 * The agent's `start` (through berth-wsl, as the manager runs it) until /_ping answers,
 * against a bare containerd + dockerd started the same way from the same binaries with an
 * equally fresh data root, in a throwaway network namespace. Plus the image build.
 */
export async function benchBootstrap(runs = 5): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'berth-bench-boot-'));
  const env = { BERTH_WSL_ROOT: root, WSL_UTF8: '1', BERTH_WSL_IDLE_TIMEOUT: '0' };
  const wsl = (args: string[]) => execa(BERTH_WSL, args, { env });
  try {
    const buildStart = Date.now();
    const manifest = await buildImages(join(root, 'images'));
    const buildSeconds = (Date.now() - buildStart) / 1000;
    for (const [name, kind] of [
      ['berth', 'berth'],
      ['berth-data', 'berth-data'],
    ] as const) {
      await wsl(['--import', name, join(root, 'distros', name), join(root, 'images', manifest.images[kind].file)]);
    }
    await wsl(['-d', 'berth-data', '--exec', 'sh', '-c', 'mkdir -p /mnt/wsl/berth/data && mount --bind /srv/berth-data /mnt/wsl/berth/data']);
    await wsl(['-d', 'berth', '--exec', AGENT, 'start', '--detach']); // warm the image cache, as after the first start

    const inDistro: number[] = [];
    // Berth's agent and a bare dockerd, interleaved, each after an untimed reset to a fresh data root.
    const { agent: agentStart, bare } = await interleavedMedians(
      {
        agent: timed(
          async () => {
            const r = await wsl(['-d', 'berth', '--exec', AGENT, 'start', '--detach']);
            // The agent's own figure: from its start to /_ping, without the cost of entering the distro.
            inDistro.push(Number(/ready at \S+ in (\d+) ms/.exec(r.stderr)?.[1]));
          },
          async () => {
            await wsl(['-d', 'berth', '--exec', AGENT, 'stop']);
            await wsl(['-d', 'berth-data', '--exec', 'sh', '-c', 'rm -rf /srv/berth-data/docker/* /srv/berth-data/containerd/*']);
          },
        ),
        bare: timed(
          () => bareDockerdUntilPing(root),
          () => wsl(['-d', 'berth', '--exec', AGENT, 'stop']),
        ),
      },
      runs,
    );
    const agentOwn = median(inDistro.slice(-runs)); // the warm-up round's is dropped
    await wsl(['-d', 'berth', '--exec', AGENT, 'start', '--detach']);
    // The supervisor's restart of a killed dockerd (containerd stays up), until /_ping answers again.
    const publishedSocket = join(root, 'run/wsl/berth/docker.sock');
    // Each kill after the service has run healthy (a crash after a crash is backed off on
    // purpose; that is not what a user waits on after one crash).
    const healthy = () => new Promise<void>((r) => setTimeout(r, DEFAULT_POLICY.backoff.healthyAfterMs + 500));
    // The kill is a signal from here, to the pid found before the timed part (an `agent
    // shell kill` would time a Node start of its own).
    let dockerd = 0;
    const dockerdBack = await timeRuns(
      runs,
      async () => {
        await healthy();
        dockerd = processNamed(processTree(distroInitPid(root, 'berth')), 'dockerd');
      },
      async () => {
        await killNow(dockerd);
        await untilPing(publishedSocket, 'dockerd did not come back within 60 s of a SIGKILL');
      },
    );
    await wsl(['-d', 'berth', '--exec', AGENT, 'stop']);
    const bareBack = await bareDockerdBack(root, runs);
    const bareBackLegacy = await bareDockerdBack(root, runs, true);
    const sizes = Object.values(manifest.images).map((i) => `${i.kind} ${(i.size / 2 ** 20).toFixed(1)} MiB`);
    return {
      rows: [
        { figure: `agent start to /_ping, in the distro (ms, median of ${runs})`, berth: agentOwn, baseline: bare, baselineName: 'bare dockerd', goal: 1.2 },
        { figure: `berth-wsl --exec agent start to /_ping (ms, median of ${runs})`, berth: agentStart, baseline: bare, baselineName: 'bare dockerd', goal: undefined },
        { figure: `dockerd back after SIGKILL to /_ping (ms, median of ${runs})`, berth: dockerdBack, baseline: bare, baselineName: 'bare dockerd start', goal: 1.3 },
        { figure: `peer: bare dockerd back after SIGKILL, restarted at once (ms, median of ${runs})`, berth: bareBack, baseline: bare, baselineName: 'bare dockerd start', goal: undefined },
        { figure: 'dockerd back after SIGKILL, Berth against the bare restart (ms)', berth: dockerdBack, baseline: bareBack, baselineName: 'bare dockerd back', goal: undefined },
        // Berth's engine uses iptables' legacy backend; the same bare restart with it.
        { figure: 'dockerd back after SIGKILL, Berth against the bare restart on legacy iptables (ms)', berth: dockerdBack, baseline: bareBackLegacy, baselineName: 'bare dockerd back, legacy', goal: undefined },
      ],
      notes: [`image build: ${buildSeconds.toFixed(1)} s for ${sizes.join(', ')}`],
    };
  } finally {
    await execa(BERTH_WSL, ['-d', 'berth', '--exec', AGENT, 'stop'], { env, reject: false });
    await execa(BERTH_WSL, ['--shutdown'], { env, reject: false });
    rmSync(root, { recursive: true, force: true });
  }
}

async function untilPing(socket: string, failure: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await dockerPing(socket, 500))) {
    if (Date.now() > deadline) throw new Error(failure);
    // The same 10 ms step as every readiness wait in these benchmarks.
    await sleep(10);
  }
}

/** SIGKILL, and back once the process is dead (a zombie, or gone): a /_ping sent before might still reach it. */
async function killNow(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  const dead = () => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
    } catch {
      return true;
    }
  };
  while (!dead()) await sleep(1);
}

/** The one process called `name` among `pids`. */
function processNamed(pids: number[], name: string): number {
  const found = pids.filter((p) => commandName(p) === name);
  if (found.length !== 1) throw new Error(`expected one ${name} among the world's processes, found ${found.length}`);
  return found[0]!;
}

/**
 * The peer of the supervisor's restart: a bare containerd + dockerd in fresh namespaces,
 * dockerd in a shell loop that starts it again at once; each round kills it (SIGKILL) and
 * waits for /_ping. What dockerd itself needs to come back after a kill (its clean-up of
 * the last run's network state), without Berth.
 */
async function bareDockerdBack(root: string, runs: number, legacyIptables = false): Promise<number> {
  const dir = mkdtempSync(join(root, 'bare-back-'));
  const socket = join(dir, 'docker.sock');
  const script = [
    'ip link set lo up',
    ...iptablesPath(root, legacyIptables),
    `containerd --root ${dir}/containerd --state ${dir}/run/containerd --address ${dir}/run/containerd.sock >${dir}/containerd.log 2>&1 &`,
    `while :; do dockerd --containerd=${dir}/run/containerd.sock --data-root=${dir}/docker --exec-root=${dir}/run/docker --pidfile=${dir}/run/docker.pid --host=unix://${socket} >>${dir}/dockerd.log 2>&1; done`,
  ].join('\n');
  const child = spawn('unshare', ['--net', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc', 'sh', '-c', script], { stdio: 'ignore' });
  try {
    await untilPing(socket, `bare dockerd did not answer; see ${dir}/dockerd.log`);
    let dockerd = 0;
    return await timeRuns(
      runs,
      async () => {
        await sleep(1000);
        dockerd = processNamed(processTree(child.pid!), 'dockerd');
      },
      async () => {
        await killNow(dockerd);
        await untilPing(socket, `bare dockerd did not come back; see ${dir}/dockerd.log`);
      },
    );
  } finally {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
}

/**
 * With `legacy`, a shell line that puts iptables' legacy backend first on the PATH, as
 * Berth's engine has it (common/engine-iptables.ts): the peer that tells dockerd's own gain
 * from that backend apart from Berth's. Without, nothing: the machine's default iptables.
 */
function iptablesPath(root: string, legacy: boolean): string[] {
  if (!legacy) return [];
  const dir = join(root, 'legacy-iptables');
  mkdirSync(dir, { recursive: true });
  for (const tool of IPTABLES_TOOLS) if (!existsSync(join(dir, tool))) symlinkSync(`/usr/sbin/${LEGACY_XTABLES}`, join(dir, tool));
  return [`export PATH=${dir}:$PATH`];
}

/**
 * containerd + dockerd from the machine's binaries in fresh namespaces, until /_ping answers.
 * `keptData`: their data directory, kept from the last call, which stopped them cleanly (as
 * Berth's engine stop does), so the start is dockerd's own start on existing data (it makes
 * its bridge and rules again); without it, a fresh directory and a SIGKILL. `legacyIptables`:
 * see iptablesPath.
 */
export async function bareDockerdUntilPing(root: string, o: { keptData?: string; legacyIptables?: boolean } = {}): Promise<void> {
  const keptData = o.keptData;
  const dir = keptData ?? mkdtempSync(join(root, 'bare-'));
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const script = [
    'ip link set lo up',
    ...iptablesPath(root, o.legacyIptables ?? false),
    `containerd --root ${dir}/containerd --state ${dir}/run/containerd --address ${dir}/run/containerd.sock >>${dir}/containerd.log 2>&1 &`,
    'c=$!',
    `dockerd --containerd=${dir}/run/containerd.sock --data-root=${dir}/docker --exec-root=${dir}/run/docker --pidfile=${dir}/run/docker.pid --host=unix://${socket} >>${dir}/dockerd.log 2>&1 &`,
    'd=$!',
    // With kept data, pid 1 of the namespace gets SIGTERM when unshare ends (--kill-child): dockerd, then containerd, stop as they would.
    "trap 'kill -TERM $d; wait $d; kill -TERM $c; wait $c; exit 0' TERM",
    'wait',
  ].join('\n');
  const child = spawn('unshare', ['--net', '--mount', '--pid', '--fork', `--kill-child=${keptData ? 'SIGTERM' : 'SIGKILL'}`, '--mount-proc', 'sh', '-c', script], { stdio: 'ignore' });
  try {
    const deadline = Date.now() + 60_000;
    while (!(await dockerPing(socket, 500))) {
      if (Date.now() > deadline) throw new Error(`bare dockerd did not answer; see ${dir}/dockerd.log`);
      // The same 10 ms step as every Berth readiness wait in these benchmarks.
      await sleep(10);
    }
  } finally {
    // unshare --fork ignores SIGTERM; its end sends the namespace's pid 1 the --kill-child signal.
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    // A clean stop takes a moment after unshare has gone: the next start must find it done.
    const end = Date.now() + 30_000;
    while (keptData && worldProcesses(dir).length > 0) {
      if (Date.now() > end) throw new Error(`bare dockerd did not stop within 30 s; see ${dir}/dockerd.log`);
      await sleep(20);
    }
  }
}
