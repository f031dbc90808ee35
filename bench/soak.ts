// `npm run soak`: a day of churn, compressed. A Berth of its own under a fresh temporary
// root, driven through the real CLI from two integrated distros and the host endpoint:
// container lifecycles with bind mounts and published ports, integrate off/on, engine
// restarts (some with the backend killed), Resource Saver pauses, `data move`s and parallel
// builds. Berth's processes and the things it makes are counted at 10% of the run and at its
// end; nothing may grow. BERTH_SOAK_SCALE scales every count (1: about 30 minutes on 2 cores;
// CI runs 0.1). The last line is `soak: N operations, N failed, N counts grew`.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { engineCgroupName } from '../installer/engine.js';
import { buildImages } from '../installer/images/build.js';
import { makeRootfsTarball } from '../test/helpers/busybox-distro.js';
import { berthProcesses, commandName, distroInitPid } from '../test/helpers/processes.js';
import { BIN } from './berth-env.js';
import { processCensus, type ProcessCensus } from './census.js';
import { busyboxTar } from './ports.js';
import { sleep, waitFor as waitUntil } from '../common/process.js';
import { IDLE_SETTLE_MS } from '../common/idle-gc.js';

const SCALE = Number(process.env.BERTH_SOAK_SCALE ?? 1);
const FULL = { lifecycles: 2000, integrations: 100, restarts: 30, backendKills: 5, pauses: 10, moves: 3, builds: 40 };
const scaled = (n: number) => Math.max(1, Math.round(n * SCALE));
const COUNTS = Object.fromEntries(Object.entries(FULL).map(([k, n]) => [k, scaled(n)])) as typeof FULL;
const SLICES = 10;
/** Slice i's share of n operations (the shares add up to n). */
const share = (n: number, i: number) => Math.floor((n * (i + 1)) / SLICES) - Math.floor((n * i) / SLICES);
const DISTROS = ['SoakA', 'SoakB'] as const;
/**
 * Berth's anonymous memory may wander this much (GC, caches) between the two counts; anything
 * more is growth. Anonymous, not PSS: the rest of PSS is a share of mapped files (node's
 * binary above all), which moves with how many processes map them, Berth's or not; a node
 * program that ended beside the soak once moved it by 15 MiB (2026-12-05). A leak is anonymous.
 */
const MEMORY_SLACK = 0.1;

if (!(SCALE > 0)) throw new Error(`BERTH_SOAK_SCALE must be a number above 0, not ${process.env.BERTH_SOAK_SCALE}`);
if (process.getuid?.() !== 0) {
  console.error('soak: needs root (the Linux WSL host uses namespaces and mounts)');
  process.exit(1);
}

const root = mkdtempSync(join(tmpdir(), 'berth-soak-'));
const env = { ...process.env, BERTH_WSL_ROOT: join(root, 'wsl'), BERTH_HOME: join(root, 'home'), DOCKER_CONFIG: join(root, 'docker'), BERTH_WSL_IDLE_TIMEOUT: '0', BERTH_IMAGES: join(root, 'images'), WSL_UTF8: '1' };
const endpoint = `unix://${join(env.BERTH_HOME, 'run/docker.sock')}`;
const hostDir = join(env.BERTH_WSL_ROOT, 'drives/c/soak');
const berth = (args: string[]) => execa(join(BIN, 'berth'), args, { env, reject: false });
const wsl = (args: string[]) => execa(join(BIN, 'berth-wsl'), args, { env, reject: false });
const inDistro = (distro: string, script: string, user = 'me') => wsl(['-d', distro, '-u', user, '--exec', 'sh', '-c', script]);
const hostDocker = (args: string[]) => execa('docker', ['-H', endpoint, ...args], { env, reject: false });

let done = 0;
const failures: string[] = [];
/** Runs one operation; a failure is counted with what it said, and the run goes on. */
async function op(what: string, run: () => Promise<void>): Promise<void> {
  done++;
  try {
    await run();
  } catch (e) {
    failures.push(`${what}: ${(e as Error).message.split('\n').slice(0, 3).join(' / ')}`);
  }
}
function check(r: { exitCode?: number; stdout?: unknown; stderr?: unknown }, what: string): string {
  if (r.exitCode !== 0) throw new Error(`${what} exited ${r.exitCode}: ${String(r.stderr || r.stdout).trim()}`);
  return String(r.stdout).trim();
}

function httpText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
  });
}

/** One container's life from a distro: a bind mount of the user's folder, a published port answered at once, removed. */
async function lifecycleInDistro(distro: string, n: number): Promise<void> {
  const script = [
    'set -e',
    `mkdir -p ~/soak && echo soak-${n} > ~/soak/index.html`,
    'id=$(docker run -d -v ~/soak:/www -p 127.0.0.1::80 busybox httpd -f -p 80 -h /www)',
    "port=$(docker port $id 80/tcp | sed -n 's/^127.0.0.1://p' | head -n1)",
    'out=$(wget -qO- http://127.0.0.1:$port/ || echo "no answer on $port")',
    'docker rm -f $id >/dev/null',
    `[ "$out" = soak-${n} ] || { echo "got: $out" >&2; exit 1; }`,
  ].join('\n');
  check(await inDistro(distro, script), `lifecycle ${n} in ${distro}`);
}

/** The same through the host endpoint, with a folder of a shared drive, reached from the host. */
async function lifecycleOnHost(n: number): Promise<void> {
  writeFileSync(join(hostDir, 'index.html'), `soak-${n}\n`);
  const id = check(await hostDocker(['run', '-d', '-v', `${hostDir}:/www`, '-p', '127.0.0.1::80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']), `run ${n} on the host`);
  try {
    const port = Number(/^127\.0\.0\.1:(\d+)$/m.exec(check(await hostDocker(['port', id, '80/tcp']), 'docker port'))?.[1]);
    const body = (await httpText(port)).trim();
    if (body !== `soak-${n}`) throw new Error(`port ${port} answered ${JSON.stringify(body)}`);
  } finally {
    check(await hostDocker(['rm', '-f', id]), `rm ${n}`);
  }
}

async function build(where: 'SoakA' | 'host', n: number): Promise<void> {
  const dockerfile = `FROM busybox\nRUN echo build-${n} > /built\n`;
  if (where === 'host') {
    const dir = join(root, `build-${n}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    check(await hostDocker(['build', '-q', '-t', `soak-build:${n}`, dir]), `build ${n} on the host`);
    check(await hostDocker(['rmi', `soak-build:${n}`]), `rmi ${n}`);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const script = `set -e; d=$(mktemp -d); printf '${dockerfile.replace(/\n/g, '\\n')}' > $d/Dockerfile; docker build -q -t soak-build:${n} $d >/dev/null; docker rmi soak-build:${n} >/dev/null; rm -rf $d`;
  check(await inDistro('SoakA', script), `build ${n} in SoakA`);
}

async function status(): Promise<{ state: string; pid?: number; paused?: boolean }> {
  return JSON.parse(String((await berth(['status', '--json'])).stdout)) as { state: string; pid?: number; paused?: boolean };
}

/** common/process.ts's waitFor, polled each second, that fails naming what did not happen. */
async function waitFor(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  if (!(await waitUntil(cond, ms, 1000))) throw new Error(`${what}: not within ${ms / 1000} s`);
}

async function restart(kill: boolean): Promise<void> {
  if (kill) {
    const pid = (await status()).pid;
    if (!pid) throw new Error('no backend pid in status');
    process.kill(pid, 'SIGKILL');
    check(await berth(['start']), 'berth start after the backend was killed');
  } else check(await berth(['restart']), 'berth restart');
  await dockerServesEverywhere('the restart');
}

/** Once `berth start` (or a move) has returned, docker answers at once from the host and in each distro: no wait, no retry. */
async function dockerServesEverywhere(after: string): Promise<void> {
  check(await hostDocker(['info', '--format', '{{.ServerVersion}}']), `docker info on the host after ${after}`);
  for (const d of DISTROS) check(await inDistro(d, 'docker version --format {{.Server.Version}}'), `docker in ${d} right after ${after}`);
}

async function pauseAndResume(): Promise<void> {
  await waitFor('Resource Saver pausing the idle engine', async () => (await status()).paused === true, 120_000);
  check(await inDistro('SoakA', 'docker ps -q'), 'docker ps on the paused engine');
  if ((await status()).paused) throw new Error('still paused after a request');
}

let moves = 0;
async function moveData(): Promise<void> {
  const dir = join(root, `data-${++moves % 2}`);
  mkdirSync(dir, { recursive: true });
  check(await berth(['data', 'move', dir]), `berth data move ${dir}`);
  await dockerServesEverywhere('berth data move');
}

interface Census {
  counts: Map<string, number>;
  berthMiB: number;
  berthAnonMiB: number;
  roles: Map<string, { processes: number; fds: number; pssMiB: number; anonMiB: number; threads: number }>;
}

/** Counts at a quiet moment: every operation of the slice done, the engine and both integrations running. */
async function census(): Promise<Census> {
  await waitFor(
    'Berth and both integrations running before the count',
    async () => {
      const s = (await status()) as { state: string; integrations?: Array<{ state: string }> };
      return s.state === 'running' && s.integrations?.length === DISTROS.length && s.integrations.every((x) => x.state === 'running');
    },
    120_000,
  );
  const backend = (await status()).pid ?? 0;
  // Quiet for two of the daemons' idle checks (common/idle-gc.ts), so each has given back
  // its garbage: what stays is what they hold, which is what must not grow. Then three
  // samples 5 s apart, and the median one.
  await sleep(IDLE_SETTLE_MS);
  const samples: ProcessCensus[] = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(5000);
    samples.push(processCensus(backend, root));
  }
  const processes = samples.sort((a, b) => a.berthMiB - b.berthMiB)[1]!;
  const counts = new Map<string, number>();
  for (const [role, r] of processes.roles) {
    counts.set(`${role}: processes`, r.processes);
    counts.set(`${role}: file descriptors`, r.fds);
    counts.set(`${role}: threads`, r.threads);
  }
  let sharedMounts = 0;
  for (const d of ['berth', ...DISTROS]) {
    sharedMounts += readFileSync(`/proc/${distroInitPid(env.BERTH_WSL_ROOT, d)}/mountinfo`, 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[4]?.includes('/mnt/wsl')).length;
  }
  counts.set('mounts under the shared area (berth, SoakA, SoakB)', sharedMounts);
  let records = 0;
  for (const d of DISTROS) records += (JSON.parse((await inDistro(d, 'cat /var/lib/berth-proxy/bind-mounts.json 2>/dev/null || echo []', 'root')).stdout || '[]') as unknown[]).length;
  counts.set('bind-mount records (SoakA, SoakB)', records);
  // The engine's namespace is dockerd's (found among Berth's own processes); WSL's is any distro's.
  const dockerd = berthProcesses(backend, env.BERTH_WSL_ROOT).find((p) => commandName(p) === 'dockerd');
  // Both backends: the engine's rules are legacy where the kernel has it (common/engine-iptables.ts), WSL's nf_tables.
  const rulesOf = async (pid: number, save: string) => (await execa('nsenter', ['-t', String(pid), '-n', save], { reject: false })).stdout.split('\n').filter((l) => l.startsWith('-A')).length;
  const rules = async (pid: number) => (await rulesOf(pid, 'iptables-legacy-save')) + (await rulesOf(pid, 'iptables-nft-save'));
  counts.set("iptables rules (the engine's and WSL's namespaces)", (dockerd ? await rules(dockerd) : 0) + (await rules(distroInitPid(env.BERTH_WSL_ROOT, 'SoakA'))));
  const cgroup = engineCgroupName(env.BERTH_HOME);
  counts.set(`cgroups (${cgroup})`, Number((await execa('sh', ['-c', `find /sys/fs/cgroup -type d -path '*${cgroup}*' 2>/dev/null | wc -l`])).stdout));
  counts.set('loop devices', (await execa('losetup', ['-a'], { reject: false })).stdout.split('\n').filter((l) => l.includes(root)).length);
  return { counts, berthMiB: processes.berthMiB, berthAnonMiB: processes.berthAnonMiB, roles: processes.roles };
}

async function setUp(): Promise<void> {
  mkdirSync(env.BERTH_HOME, { recursive: true });
  // Resource Saver's shortest wait, so the pause cycles take seconds, not minutes.
  writeFileSync(join(env.BERTH_HOME, 'settings.json'), `${JSON.stringify({ autoPauseTimeoutSeconds: 30 })}\n`);
  await buildImages(env.BERTH_IMAGES);
  check(await berth(['enable']), 'berth enable');
  check(await execa('docker', ['-H', endpoint, 'import', '-', 'busybox:latest'], { env, input: await busyboxTar(), reject: false }), 'docker import busybox');
  mkdirSync(hostDir, { recursive: true });
  for (const d of DISTROS) {
    check(await wsl(['--import', d, join(root, 'distros', d), await makeRootfsTarball(root, d.toLowerCase())]), `import ${d}`);
    check(await berth(['integrate', d]), `integrate ${d}`);
  }
}

function table(first: Census, last: Census): { lines: string[]; grew: string[] } {
  const lines = ['| figure | at 10% | at the end | grew |', '|---|---|---|---|'];
  const grew: string[] = [];
  const keys = [...new Set([...first.counts.keys(), ...last.counts.keys()])].sort();
  for (const k of keys) {
    const a = first.counts.get(k) ?? 0;
    const b = last.counts.get(k) ?? 0;
    if (b > a) grew.push(`${k}: ${a} → ${b}`);
    lines.push(`| ${k} | ${a} | ${b} | ${b > a ? 'yes' : 'no'} |`);
  }
  const memoryGrew = last.berthAnonMiB > first.berthAnonMiB * (1 + MEMORY_SLACK);
  if (memoryGrew) grew.push(`Berth's anonymous memory: ${first.berthAnonMiB.toFixed(1)} → ${last.berthAnonMiB.toFixed(1)} MiB`);
  lines.push(`| Berth's PSS, MiB | ${first.berthMiB.toFixed(1)} | ${last.berthMiB.toFixed(1)} | (shown) |`);
  lines.push(`| of which anonymous (heaps), MiB (within ${MEMORY_SLACK * 100}%) | ${first.berthAnonMiB.toFixed(1)} | ${last.berthAnonMiB.toFixed(1)} | ${memoryGrew ? 'yes' : 'no'} |`);
  const mib = (r: { pssMiB: number; anonMiB: number } | undefined) => (r ? `${r.pssMiB.toFixed(1)} (${r.anonMiB.toFixed(1)} anon)` : '0');
  for (const [role, r] of last.roles) lines.push(`| ${role}: PSS, MiB | ${mib(first.roles.get(role))} | ${mib(r)} | (in the total) |`);
  return { lines, grew };
}

/** A failed run's logs (the engine's, the manager's, the proxies'), kept outside the world that is removed after. */
async function keepDiagnostics(): Promise<void> {
  const r = await berth(['diagnose']);
  const bundle = String(r.stdout).trim().split('\n').pop() ?? '';
  if (r.exitCode !== 0 || !bundle.endsWith('.tar.gz')) return console.log(`berth diagnose failed: ${String(r.stderr).trim()}`);
  const kept = join(tmpdir(), `berth-soak-diagnostics-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`);
  copyFileSync(bundle, kept);
  console.log(`diagnostics of this run: ${kept}`);
}

async function main(): Promise<number> {
  const started = Date.now();
  console.log(`soak: scale ${SCALE}: ${JSON.stringify(COUNTS)} in ${SLICES} slices, under ${root}`);
  await setUp();
  let first: Census | undefined;
  let lifecycle = 0;
  let built = 0;
  let restarts = 0;
  for (let i = 0; i < SLICES; i++) {
    // Lifecycles from the three clients at once, and builds beside them.
    const n = share(COUNTS.lifecycles, i);
    const workers = [
      (k: number) => op(`lifecycle ${k} in SoakA`, () => lifecycleInDistro('SoakA', k)),
      (k: number) => op(`lifecycle ${k} in SoakB`, () => lifecycleInDistro('SoakB', k)),
      (k: number) => op(`lifecycle ${k} on the host`, () => lifecycleOnHost(k)),
    ];
    await Promise.all([
      ...workers.map(async (work, w) => {
        for (let k = w; k < n; k += workers.length) await work(lifecycle + k);
      }),
      (async () => {
        for (let b = 0; b < share(COUNTS.builds, i); b += 2) {
          const k = built;
          built += 2;
          await Promise.all([op(`build ${k} in SoakA`, () => build('SoakA', k)), op(`build ${k + 1} on the host`, () => build('host', k + 1))]);
        }
      })(),
    ]);
    lifecycle += n;
    for (let k = 0; k < share(COUNTS.integrations, i); k++) {
      await op('integrate SoakB off and on', async () => {
        check(await berth(['integrate', 'SoakB', '--off']), 'integrate --off');
        check(await berth(['integrate', 'SoakB']), 'integrate');
        check(await inDistro('SoakB', 'docker version --format {{.Server.Version}}'), 'docker in SoakB');
      });
    }
    for (let k = 0; k < share(COUNTS.restarts, i); k++) {
      // Every so often the backend is killed instead (kill -9), and `berth start` takes over.
      const kill = Math.floor(((restarts + 1) * COUNTS.backendKills) / COUNTS.restarts) > Math.floor((restarts * COUNTS.backendKills) / COUNTS.restarts);
      restarts++;
      await op(kill ? 'backend killed, berth start' : 'berth restart', () => restart(kill));
    }
    for (let k = 0; k < share(COUNTS.pauses, i); k++) await op('Resource Saver pause and resume', pauseAndResume);
    for (let k = 0; k < share(COUNTS.moves, i); k++) await op('berth data move', moveData);
    if (i === 0) first = await census();
    console.log(`soak: slice ${i + 1}/${SLICES}: ${done} operations, ${failures.length} failed, ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const last = await census();
  const { lines, grew } = table(first!, last);
  console.log(lines.join('\n'));
  for (const f of failures.slice(0, 20)) console.log(`failed: ${f}`);
  for (const g of grew) console.log(`grew: ${g}`);
  // For a failed run: what the manager logged as going wrong (the world is removed after).
  if (failures.length) {
    const logged = readFileSync(join(env.BERTH_HOME, 'logs/berth.log'), 'utf8')
      .split('\n')
      .filter((l) => /;(warn|error):|cannot |failed/.test(l));
    console.log(`manager log: ${logged.length} warnings and errors; the first 15:`);
    for (const l of logged.slice(0, 15)) console.log(`  ${l}`);
    await keepDiagnostics();
  }
  console.log(`soak: ${done} operations, ${failures.length} failed, ${grew.length} counts grew`);
  return failures.length === 0 && grew.length === 0 ? 0 : 1;
}

const code = await main().catch((e: Error) => {
  console.error(`soak: ${e.message}`);
  console.log(`soak: ${done} operations, ${failures.length + 1} failed, 0 counts grew`);
  return 1;
});
await berth(['stop']);
await wsl(['--shutdown']);
rmSync(root, { recursive: true, force: true });
process.exit(code);
