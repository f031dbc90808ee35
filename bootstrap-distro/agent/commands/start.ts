import { DAEMON_NODE_FLAGS } from '../../../common/node-flags.js';
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { askStop, currentStatus } from '../control-client.js';
import { paths } from '../paths.js';
import { publishEngineNetns, publishTools, unpublishTools } from '../publish.js';
import { AGENT_WARNING } from '../../../common/agent-warning.js';
import { CGROUP_NAME, defaultEngineCgroupName, engineCgroupFile, prepareEngineCgroup, removeEngineCgroup, type CgroupLayout, type EngineLimits } from '../engine-cgroup.js';
import { ENGINE_LIMITS } from '../../../common/engine-limits.js';

/** The service whose socket `start` waits for. */
const ENGINE_SERVICE = 'dockerd';

export async function run(args: string[]): Promise<number> {
  const began = Date.now();
  const { values } = parseArgs({
    args,
    options: {
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
    },
  });
  let limits: EngineLimits;
  let cgroupName: string;
  let autoPause: number;
  try {
    limits = parseLimits(values['memory-mib'], values.cpus);
    autoPause = Number(values['auto-pause']);
    if (!Number.isInteger(autoPause) || autoPause < 0) throw new Error(`--auto-pause takes whole seconds (0 = never), not "${values['auto-pause']}"`);
    cgroupName = values.cgroup ?? (await defaultEngineCgroupName());
    if (!CGROUP_NAME.test(cgroupName)) throw new Error(`--cgroup takes letters, digits, '-' and '_', not "${cgroupName}"`);
  } catch (e) {
    process.stderr.write(`berth-agent: ${(e as Error).message}\n`);
    return 2;
  }
  const running = await currentStatus();
  if (running) {
    process.stderr.write(`berth-agent: the engine is already running (supervisor pid ${running.pid}, since ${running.startedAt}); stop it first with \`berth-agent stop\`.\n`);
    return 3;
  }
  if (!(await stat(values.data).catch(() => undefined))?.isDirectory()) {
    process.stderr.write(`berth-agent: the data store ${values.data} is not there; \`berth start\` mounts berth-data's store there, or pass --data DIR.\n`);
    return 1;
  }
  let lower: string[];
  try {
    const { readManifest, verifiedImageDir } = await import('../images.js');
    const manifest = await readManifest();
    const system = await verifiedImageDir(manifest.system);
    const versionPack = await verifiedImageDir(manifest.versionPack);
    lower = [versionPack, system];
  } catch (e) {
    process.stderr.write(`berth-agent: ${(e as Error).message}\n`);
    return 1;
  }
  await publishTools(lower[0]!);
  const init = join(lower[1]!, 'sbin/init');
  const superviseArgs = [
    'supervise', '--lower', lower.join(':'), '--data', values.data, ...(values.config ? ['--config', values.config] : []),
    '--log-lines', values['log-lines'], '--log-line-bytes', values['log-line-bytes'], '--log-file-bytes', values['log-file-bytes'], '--log-files', values['log-files'],
    '--auto-pause', String(autoPause), '--cgroup', cgroupName,
  ];
  // tini as pid 1 reaps the orphans a container engine leaves (shims), and forwards signals.
  const unshareArgv = ['-m', '-n', '-p', '-u', '-i', '-f', '--propagation', 'slave', init, '-g', '--', paths.node, ...DAEMON_NODE_FLAGS, paths.agentBundle, ...superviseArgs];
  let cgroup: CgroupLayout & { warnings: string[] };
  try {
    cgroup = await prepareEngineCgroup(cgroupName, limits);
    for (const warning of cgroup.warnings) process.stderr.write(`${AGENT_WARNING}${warning}\n`);
    await mkdir(paths.runDir, { recursive: true });
    await writeFile(engineCgroupFile(), `${cgroupName}\n`, { mode: 0o644 });
  } catch (e) {
    process.stderr.write(`berth-agent: ${(e as Error).message}\n`);
    return 1;
  }
  // The engine starts inside its cgroup: a shell joins it, then becomes unshare (paths as arguments, never as code).
  const procsFiles = cgroup.dirs.map((d) => join(d.dir, 'cgroup.procs'));
  const argv = ['-c', 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 1; shift; n=$((n-1)); done; exec unshare "$@"', 'sh', String(procsFiles.length), ...procsFiles, ...unshareArgv];
  await mkdir(paths.runDir, { recursive: true });
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
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  const lastOutput = async () =>
    logFd === undefined ? tail : (await readFile(logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-20);
  const deadline = Date.now() + Number(values.timeout) * 1000;
  for (;;) {
    const early = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20))]);
    if (early !== undefined) {
      await unpublishTools();
      await removeEngineCgroup(cgroupName);
      process.stderr.write(`berth-agent: the engine did not start (exit ${early}). Last output:\n  ${(await lastOutput()).join('\n  ')}\n`);
      return 1;
    }
    const s = await currentStatus();
    if (s?.engine === 'ready') break;
    // Waiting on is pointless once the engine's own service has given up.
    const engineFailed = s?.services.some((svc) => svc.name === ENGINE_SERVICE && svc.state === 'failed');
    if (Date.now() > deadline || engineFailed) {
      const why = engineFailed ? `the ${ENGINE_SERVICE} service keeps crashing` : `the engine did not answer /_ping within ${values.timeout}s`;
      process.stderr.write(
        `berth-agent: ${why}; stopping. Services: ${JSON.stringify(s?.services ?? [])}\nLast output:\n  ${(await lastOutput()).join('\n  ')}\n`,
      );
      await askStop();
      await exited;
      await unpublishTools();
      await removeEngineCgroup(cgroupName);
      return 1;
    }
  }
  await publishEngineNetns(child.pid!);
  process.stderr.write(`berth-agent: engine ready at unix://${paths.dockerSocket} in ${Date.now() - began} ms\n`);
  if (values.detach) {
    child.unref();
    return 0;
  }
  // Foreground: this process is what keeps the distro attached; a signal here stops the engine.
  const forwardStop = () => void askStop();
  process.on('SIGTERM', forwardStop);
  process.on('SIGINT', forwardStop);
  const code = await exited;
  await unpublishTools();
  await removeEngineCgroup(cgroupName);
  return code;
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

