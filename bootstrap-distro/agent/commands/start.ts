import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { paths } from '../paths.js';
import { publishEngineNetnsOnceMade, publishTools, unpublishTools } from '../publish.js';
import { setUpVmLink, tearDownVmLink } from '../vm-link.js';
import { AGENT_WARNING, ENGINE_NETNS_LINE } from '../../../common/agent-warning.js';
import { CGROUP_NAME, defaultEngineCgroupName, engineCgroupFile, prepareEngineCgroup, removeEngineCgroup, type CgroupLayout, type EngineLimits } from '../engine-cgroup.js';
import { ENGINE_LIMITS } from '../../../common/engine-limits.js';
import { ENGINE_XTABLES_LOCK } from '../../../common/engine-iptables.js';
import { engineTalk, untilReady, type EngineTalk, type StartedSupervisor } from '../engine-ready.js';
import { engineInitArgv } from '../engine-launch.js';
import { toldToGo } from '../hold.js';

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
  hold: { type: 'boolean', default: false },
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
  try {
    const { values } = parseArgs({ args, options: OPTIONS });
    const ready = await readyToStart(values);
    if (!ready) return 0; // held, and never told to go
    const { cgroupName, autoPause, lower, cgroup, began } = ready;
    // The tools are for the user distros, not the engine: published while it starts.
    const published = publishTools(lower[0]!).then(
      () => undefined,
      (e: Error) => e,
    );
    const supervisor = await startSupervisor(values, lower, cgroupName, autoPause, cgroup);
    const talking = engineTalk();
    const { netnsPublished, linked } = namespaceThenVmLink(supervisor.child.pid!, lower[1]!, values.data);
    // From here on, a failure takes back what this start put in place.
    const undo = async () => {
      await published;
      await netnsPublished;
      await linked;
      await tearDownVmLink();
      await unpublishTools();
      await removeEngineCgroup(cgroupName);
    };
    const talk = await talkingOrStopped(talking, supervisor, undo);
    const { askStop } = talk;
    const failed = await untilReady(supervisor, Number(values.timeout), talk);
    if (failed !== undefined) {
      await undo();
      return failed;
    }
    const publishError = (await published) ?? (await netnsPublished);
    if (publishError) {
      await askStop();
      await supervisor.exited;
      await undo();
      throw publishError;
    }
    process.stderr.write(`berth-agent: engine ready at unix://${paths.dockerSocket} in ${Date.now() - began} ms\n`);
    const linkError = await linked;
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

/** The engine's talk, once loaded; a start that cannot even watch the engine stops it rather than leave it running unwatched. */
async function talkingOrStopped(talking: Promise<EngineTalk>, supervisor: Supervisor, undo: () => Promise<void>): Promise<EngineTalk> {
  try {
    return await talking;
  } catch (e) {
    supervisor.child.kill('SIGTERM');
    await supervisor.exited;
    await undo();
    throw e;
  }
}

/**
 * While dockerd starts: the engine's network namespace published for the host side of the
 * engine link (said on stdout: the manager attaches the link then), and the VM link made
 * once it is (until then published ports go through the relays; its rules and dockerd's
 * share one lock). `netnsPublished` resolves with its failure, `linked` with the link's.
 */
function namespaceThenVmLink(supervisorPid: number, systemImage: string, dataStore: string): { netnsPublished: Promise<Error | undefined>; linked: Promise<string | undefined> } {
  const netnsPublished = publishEngineNetnsOnceMade(supervisorPid).then(
    () => void process.stdout.write(`${ENGINE_NETNS_LINE}\n`),
    (e: Error) => e,
  );
  const linked = netnsPublished.then((e) => (e ? undefined : setUpVmLink(systemImage, dataStore)));
  return { netnsPublished, linked };
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

/**
 * The options checked, then (after a hold's go) the start allowed, the images verified and
 * the cgroup made; undefined when a hold ended without go. `began`: when the start proper did.
 */
async function readyToStart(values: StartValues): Promise<{ cgroupName: string; autoPause: number; lower: string[]; cgroup: CgroupLayout; began: number } | undefined> {
  let began = Date.now();
  const { limits, cgroupName, autoPause } = await checkedOptions(values);
  // Checking the images only reads them (and fills their cache): begun before a hold, and
  // awaited after the checks below (a refusal first must not leave its failure unhandled).
  const images = verifiedImages();
  images.catch(() => undefined);
  if (values.hold) {
    if (!(await toldToGo())) {
      await images.catch(() => undefined); // its cache writes end before this process does
      return undefined;
    }
    began = Date.now();
  }
  await refuseUnlessStartable(values.data);
  return { cgroupName, autoPause, ...(await imagesAndCgroup(images, cgroupName, limits)), began };
}

/** Not when an engine runs already, nor without the data store. */
async function refuseUnlessStartable(dataStore: string): Promise<void> {
  // No control socket, no engine: the common case answers without a request.
  const running = (await stat(paths.controlSocket).catch(() => undefined)) ? await (await engineTalk()).currentStatus() : undefined;
  if (running) {
    throw new StartRefused(`berth-agent: the engine is already running (supervisor pid ${running.pid}, since ${running.startedAt}); stop it first with \`berth-agent stop\`.`, 3);
  }
  if (!(await stat(dataStore).catch(() => undefined))?.isDirectory()) {
    throw new StartRefused(`berth-agent: the data store ${dataStore} is not there; \`berth start\` mounts berth-data's store there, or pass --data DIR.`, 1);
  }
}

/** The images (being checked) and the engine's cgroup, both at once (a start waits on them); a refused image takes the new cgroup back. */
async function imagesAndCgroup(checking: Promise<string[]>, cgroupName: string, limits: EngineLimits): Promise<{ lower: string[]; cgroup: CgroupLayout }> {
  const [images, cgroup] = await Promise.allSettled([checking, prepareCgroup(cgroupName, limits)]);
  if (images.status === 'rejected') {
    if (cgroup.status === 'fulfilled') await removeEngineCgroup(cgroupName);
    throw images.reason;
  }
  if (cgroup.status === 'rejected') throw cgroup.reason;
  return { lower: images.value, cgroup: cgroup.value };
}

/** The root's two read-only images, checked against the manifest: [version pack, system]. */
async function verifiedImages(): Promise<string[]> {
  try {
    const { readManifest, verifiedImageDir } = await import('../images.js');
    const manifest = await readManifest();
    return await Promise.all([verifiedImageDir(manifest.versionPack), verifiedImageDir(manifest.system)]);
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

interface Supervisor extends StartedSupervisor {
  child: ChildProcess;
}

/**
 * The engine's namespaces, in its cgroup: berth-engine-init is their pid 1; it starts the
 * supervisor and, meanwhile, assembles the root, runs the onboot actions and starts the
 * services from the boot plan (the system image's, or one compiled from --config).
 */
async function startSupervisor(values: StartValues, lower: string[], cgroupName: string, autoPause: number, cgroup: CgroupLayout): Promise<Supervisor> {
  const argv = await engineInitArgv(values, { lower, cgroupName, autoPause, cgroupDirs: cgroup.dirs.map((d) => d.dir), plan: await bootPlan(values.config, lower) });
  // The iptables lock's directory, before anything can take the lock: the VM link and the
  // manager's engine link take it while the onboot actions may still be running (a first start).
  await mkdir(dirname(join(values.data, ENGINE_XTABLES_LOCK)), { recursive: true, mode: 0o755 });
  // Detached, the supervisor writes to a log file (a pipe would break when we exit).
  const logFile = join(paths.runDir, 'agent.log');
  const logFd = values.detach ? openSync(logFile, 'a') : undefined;
  const child = spawn(paths.engineInit, argv, {
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

/** The boot plan's path: the system image's, or --config's compiled into the run dir. */
async function bootPlan(config: string | undefined, lower: string[]): Promise<string> {
  if (!config) return join(lower[1]!, 'etc/berth/boot.plan');
  try {
    const [{ parseLinuxkit }, { encodeBootPlan }] = await Promise.all([import('../linuxkit-yaml.js'), import('../boot-plan.js')]);
    const plan = join(paths.runDir, 'boot.plan');
    await writeFile(plan, encodeBootPlan(parseLinuxkit(await readFile(config, 'utf8'), config)), { mode: 0o600 });
    return plan;
  } catch (e) {
    throw new StartRefused(`berth-agent: ${(e as Error).message}`, 2);
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
