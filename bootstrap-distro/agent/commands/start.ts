import { DAEMON_NODE_FLAGS } from '../../../common/node-flags.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { askStop, currentStatus } from '../control-client.js';
import { paths } from '../paths.js';
import { publishEngineNetns, publishTools, unpublishTools } from '../publish.js';
import { setUpVmLink, tearDownVmLink } from '../vm-link.js';
import { AGENT_WARNING } from '../../../common/agent-warning.js';
import { CGROUP_NAME, defaultEngineCgroupName, engineCgroupFile, prepareEngineCgroup, removeEngineCgroup, type CgroupLayout, type EngineLimits } from '../engine-cgroup.js';
import { ENGINE_LIMITS } from '../../../common/engine-limits.js';
import { sleep } from '../../../common/process.js';

/** The service whose socket `start` waits for. */
const ENGINE_SERVICE = 'dockerd';

const OPTIONS = {
  data: { type: 'string', default: paths.defaultDataStore },
  config: { type: 'string' },
  detach: { type: 'boolean', default: false },
  timeout: { type: 'string', default: '60' },
  'log-lines': { type: 'string', default: '5000' },
  'log-line-bytes': { type: 'string', default: '1024' },
  'log-file-bytes': { type: 'string', default: String(1024 * 1024) },
  'log-files': { type: 'string', default: '4' },
  'memory-mib': { type: 'string' },
  cpus: { type: 'string' },
  'auto-pause': { type: 'string', default: '0' },
  cgroup: { type: 'string' },
} as const;
type StartValues = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

/** A start that cannot go on: the message for stderr and the exit code. */
class StartRefused extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

export async function run(args: string[]): Promise<number> {
  const began = Date.now();
  try {
    const { values } = parseArgs({ args, options: OPTIONS });
    const { limits, cgroupName, autoPause } = await checkedOptions(values);
    await refuseUnlessStartable(values.data);
    const lower = await verifiedImages();
    await publishTools(lower[0]!);
    const cgroup = await prepareCgroup(cgroupName, limits);
    const supervisor = startSupervisor(values, lower, cgroupName, autoPause, cgroup);
    // From here on, a failure takes back what this start put in place.
    const undo = async () => {
      await tearDownVmLink();
      await unpublishTools();
      await removeEngineCgroup(cgroupName);
    };
    const failed = await untilReady(supervisor, Number(values.timeout));
    if (failed !== undefined) {
      await undo();
      return failed;
    }
    await publishEngineNetns(supervisor.child.pid!);
    process.stderr.write(`berth-agent: engine ready at unix://${paths.dockerSocket} in ${Date.now() - began} ms\n`);
    // After the engine answers: until the link is there, published ports go through the relays.
    const linkError = await setUpVmLink(lower[1]!);
    if (linkError) process.stderr.write(`${AGENT_WARNING}the VM link to the engine is not there (${linkError}); published ports reach the engine through the relays instead\n`);
    if (values.detach) {
      supervisor.child.unref();
      return 0;
    }
    // Foreground: this process is what keeps the distro attached; a signal here stops the engine.
    const forwardStop = () => void askStop();
    process.on('SIGTERM', forwardStop);
    process.on('SIGINT', forwardStop);
    const code = await supervisor.exited;
    await undo();
    return code;
  } catch (e) {
    if (!(e instanceof StartRefused)) throw e;
    process.stderr.write(`${e.message}\n`);
    return e.code;
  }
}

async function checkedOptions(values: StartValues): Promise<{ limits: EngineLimits; cgroupName: string; autoPause: number }> {
  try {
    const limits = parseLimits(values['memory-mib'], values.cpus);
    const autoPause = Number(values['auto-pause']);
    if (!Number.isInteger(autoPause) || autoPause < 0) throw new Error(`--auto-pause takes whole seconds (0 = never), not "${values['auto-pause']}"`);
    const cgroupName = values.cgroup ?? (await defaultEngineCgroupName());
    if (!CGROUP_NAME.test(cgroupName)) throw new Error(`--cgroup takes letters, digits, '-' and '_', not "${cgroupName}"`);
    return { limits, cgroupName, autoPause };
  } catch (e) {
    throw new StartRefused(`berth-agent: ${(e as Error).message}`, 2);
  }
}

/** Not when an engine runs already, nor without the data store. */
async function refuseUnlessStartable(dataStore: string): Promise<void> {
  const running = await currentStatus();
  if (running) {
    throw new StartRefused(`berth-agent: the engine is already running (supervisor pid ${running.pid}, since ${running.startedAt}); stop it first with \`berth-agent stop\`.`, 3);
  }
  if (!(await stat(dataStore).catch(() => undefined))?.isDirectory()) {
    throw new StartRefused(`berth-agent: the data store ${dataStore} is not there; \`berth start\` mounts berth-data's store there, or pass --data DIR.`, 1);
  }
}

/** The root's two read-only images, checked against the manifest: [version pack, system]. */
async function verifiedImages(): Promise<string[]> {
  try {
    const { readManifest, verifiedImageDir } = await import('../images.js');
    const manifest = await readManifest();
    return [await verifiedImageDir(manifest.versionPack), await verifiedImageDir(manifest.system)];
  } catch (e) {
    throw new StartRefused(`berth-agent: ${(e as Error).message}`, 1);
  }
}

async function prepareCgroup(cgroupName: string, limits: EngineLimits): Promise<CgroupLayout> {
  try {
    const cgroup = await prepareEngineCgroup(cgroupName, limits);
    for (const warning of cgroup.warnings) process.stderr.write(`${AGENT_WARNING}${warning}\n`);
    await mkdir(paths.runDir, { recursive: true });
    await writeFile(engineCgroupFile(), `${cgroupName}\n`, { mode: 0o644 });
    return cgroup;
  } catch (e) {
    throw new StartRefused(`berth-agent: ${(e as Error).message}`, 1);
  }
}

interface Supervisor {
  child: ChildProcess;
  exited: Promise<number>;
  /** Its last lines of output, for a start that failed. */
  lastOutput(): Promise<string[]>;
}

/** The supervisor, in the engine's cgroup and its own namespaces, under tini. */
function startSupervisor(values: StartValues, lower: string[], cgroupName: string, autoPause: number, cgroup: CgroupLayout): Supervisor {
  const init = join(lower[1]!, 'sbin/init');
  const superviseArgs = [
    'supervise',
    '--lower',
    lower.join(':'),
    '--data',
    values.data,
    ...(values.config ? ['--config', values.config] : []),
    '--log-lines',
    values['log-lines'],
    '--log-line-bytes',
    values['log-line-bytes'],
    '--log-file-bytes',
    values['log-file-bytes'],
    '--log-files',
    values['log-files'],
    '--auto-pause',
    String(autoPause),
    '--cgroup',
    cgroupName,
  ];
  // tini as pid 1 reaps the orphans a container engine leaves (shims), and forwards signals.
  const unshareArgv = ['-m', '-n', '-p', '-u', '-i', '-f', '--propagation', 'slave', init, '-g', '--', paths.node, ...DAEMON_NODE_FLAGS, paths.agentBundle, ...superviseArgs];
  // The engine starts inside its cgroup: a shell joins it, then becomes unshare (paths as arguments, never as code).
  const procsFiles = cgroup.dirs.map((d) => join(d.dir, 'cgroup.procs'));
  const argv = ['-c', 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 1; shift; n=$((n-1)); done; exec unshare "$@"', 'sh', String(procsFiles.length), ...procsFiles, ...unshareArgv];
  // Detached, the supervisor writes to a log file (a pipe would break when we exit).
  const logFile = join(paths.runDir, 'agent.log');
  const logFd = values.detach ? openSync(logFile, 'a') : undefined;
  const child = spawn('sh', argv, {
    stdio: logFd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', logFd, logFd],
    detached: values.detach,
  });
  const tail: string[] = [];
  const onData = (d: Buffer) => {
    process.stdout.write(d);
    for (const line of d.toString().split('\n').filter(Boolean)) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return {
    child,
    exited: new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))),
    lastOutput: async () => (logFd === undefined ? tail : (await readFile(logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-20)),
  };
}

/** Undefined once the engine answers; else the exit code of a start that failed (said on stderr, the supervisor stopped). */
async function untilReady(supervisor: Supervisor, timeoutSeconds: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const early = await Promise.race([supervisor.exited, sleep(20).then(() => undefined)]);
    if (early !== undefined) {
      process.stderr.write(`berth-agent: the engine did not start (exit ${early}). Last output:\n  ${(await supervisor.lastOutput()).join('\n  ')}\n`);
      return 1;
    }
    const s = await currentStatus();
    if (s?.engine === 'ready') return undefined;
    // Waiting on is pointless once the engine's own service has given up.
    const engineFailed = s?.services.some((svc) => svc.name === ENGINE_SERVICE && svc.state === 'failed');
    if (Date.now() > deadline || engineFailed) {
      const why = engineFailed ? `the ${ENGINE_SERVICE} service keeps crashing` : `the engine did not answer /_ping within ${timeoutSeconds}s`;
      process.stderr.write(`berth-agent: ${why}; stopping. Services: ${JSON.stringify(s?.services ?? [])}\nLast output:\n  ${(await supervisor.lastOutput()).join('\n  ')}\n`);
      await askStop();
      await supervisor.exited;
      return 1;
    }
  }
}

/** --memory-mib and --cpus, checked (the settings schema checks them first; this is the agent's own guard). */
function parseLimits(memory: string | undefined, cpus: string | undefined): EngineLimits {
  const limits: EngineLimits = {};
  if (memory !== undefined) {
    const n = Number(memory);
    const { min } = ENGINE_LIMITS.memoryMiB;
    if (!Number.isInteger(n) || n < min) throw new Error(`--memory-mib takes a whole number of MiB, at least ${min}, not "${memory}"`);
    limits.memoryMiB = n;
  }
  if (cpus !== undefined) {
    const n = Number(cpus);
    const { min, max } = ENGINE_LIMITS.cpus;
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--cpus takes a number of CPUs from ${min} to ${max}, not "${cpus}"`);
    limits.cpus = n;
  }
  return limits;
}
