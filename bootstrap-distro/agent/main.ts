import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { probeJson } from '../../common/http-client.js';
import { agentStatusSchema, stopReplySchema } from './status-schema.js';
import { paths } from './paths.js';
import { publishEngineNetns, publishTools, unpublishTools } from './publish.js';
import { LOG_QUERY_PUBLISHED } from './supervisor-paths.js';
import { sharedPath } from '../../common/shared-area.js';

const USAGE = `usage: berth-agent <command>
  start [--data DIR] [--config FILE] [--detach] [--timeout SECONDS]
                   assemble the LinuxKit root and run the engine (foreground unless --detach)
  stop             stop the services in reverse order and take the root down
  status [--json]  the root's services: state, pid, restarts, last exit, uptime
  shell [CMD…]     a root shell (or CMD) inside the root's namespaces
  logread [-f|-F] [SOURCE…]
                   the log daemon's lines as time,source;msg (-f: then follow; -F: follow only)
  relay SOCKET     copy stdin/stdout to a Unix socket under /mnt/wsl (how the Windows side reaches it through wsl.exe)`;

/** Exit codes: 0 ok, 1 failed, 2 usage, 3 already running / not running. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'stop':
      return stopAgent();
    case 'status':
      return status(rest);
    case 'shell':
      return shell(rest);
    case 'logread':
      return logread(rest);
    case 'ports':
      return ports();
    case 'relay':
      return relay(rest);
    case 'supervise':
      return superviseCommand(rest);
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

/** The service whose socket `start` waits for. */
const ENGINE_SERVICE = 'dockerd';

const currentStatus = () => probeJson(paths.controlSocket, { path: '/status', timeoutMs: 2000 }, agentStatusSchema);
/** Asks the supervisor to stop; undefined if none answers. */
const askStop = () => probeJson(paths.controlSocket, { method: 'POST', path: '/stop', timeoutMs: 2000 }, stopReplySchema);

async function start(args: string[]): Promise<number> {
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
    },
  });
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
    const { readManifest, verifiedImageDir } = await import('./images.js');
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
  ];
  // tini as pid 1 reaps the orphans a container engine leaves (shims), and forwards signals.
  const argv = ['-m', '-n', '-p', '-u', '-i', '-f', '--propagation', 'slave', init, '-g', '--', paths.node, paths.agentBundle, ...superviseArgs];
  await mkdir(paths.runDir, { recursive: true });
  // Detached, the supervisor writes to a log file (a pipe would break when we exit).
  const logFile = join(paths.runDir, 'agent.log');
  const logFd = values.detach ? openSync(logFile, 'a') : undefined;
  const child = spawn('unshare', argv, {
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
  return code;
}

async function stopAgent(): Promise<number> {
  const s = await currentStatus();
  if (!s) {
    process.stderr.write('berth-agent: the engine is not running.\n');
    return 0;
  }
  await askStop();
  // Gone when the supervisor has exited: its pid no longer exists in this distro.
  for (let i = 0; i < 600; i++) {
    if (!(await stat(`/proc/${s.pid}`).catch(() => undefined))) {
      await unpublishTools();
      return 0;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  process.stderr.write(`berth-agent: the supervisor (pid ${s.pid}) did not exit within 30s.\n`);
  return 1;
}

async function status(args: string[]): Promise<number> {
  const s = await currentStatus();
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(s ?? { state: 'stopped', services: [] })}\n`);
    return s ? 0 : 3;
  }
  if (!s) {
    process.stdout.write('stopped\n');
    return 3;
  }
  process.stdout.write(`${s.state} (engine ${s.engine}), supervisor pid ${s.pid}, since ${s.startedAt}\n`);
  for (const svc of s.services) {
    const exit = svc.lastExit ? `, last exit ${svc.lastExit.signal ?? svc.lastExit.code}` : '';
    process.stdout.write(`  ${svc.name.padEnd(12)} ${svc.state.padEnd(10)} pid ${String(svc.pid ?? '-').padEnd(6)} restarts ${svc.restarts}${exit}\n`);
  }
  return 0;
}

async function shell(args: string[]): Promise<number> {
  const s = await currentStatus();
  if (!s) {
    process.stderr.write('berth-agent: the engine is not running; start it first.\n');
    return 3;
  }
  const command = args.length > 0 ? args : ['/bin/sh'];
  // Entering the supervisor's mount namespace lands on the LinuxKit root (stacked over its "/").
  const child = spawn('nsenter', ['-t', String(s.pid), '-m', '-u', '-i', '-n', '-p', '--', ...command], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

/** logread: `-f` dump then follow, `-F` follow only; prints time,source;msg. */
async function logread(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { f: { type: 'boolean' }, F: { type: 'boolean' } } });
  const { readLogs, formatLine } = await import('../logd/client.js');
  const { connect } = await import('node:net');
  const socket = connect(LOG_QUERY_PUBLISHED);
  const ok = await new Promise<boolean>((r) => socket.once('connect', () => r(true)).once('error', () => r(false)));
  if (!ok) {
    process.stderr.write('berth-agent: the log daemon is not running (the engine is stopped); persisted logs are in the data store under log/.\n');
    return 3;
  }
  await readLogs(socket, values.F ? 'follow' : values.f ? 'dumpAndFollow' : 'dump', positionals, (e) => process.stdout.write(`${formatLine(e)}\n`));
  return 0;
}

/**
 * ports: run by the manager, attached, in the berth distro, which lives in the WSL network
 * namespace every distro shares. Reads `{"id","op":"open","key","host","port","proto","ip","targetPort"}`
 * and `{"id","op":"close","key"}` lines on stdin; binds there and forwards to the engine.
 * Answers `{"id","key","ok"[,"error"]}` lines.
 */
async function ports(): Promise<number> {
  const { listenPublishedPort } = await import('../../common/port-forward/forward.js');
  const { connect } = await import('node:net');
  const { createInterface } = await import('node:readline');
  // A port is bound at claim time (before the container runs), its target set once known.
  const open = new Map<string, { server?: { close(): void }; target?: { ip: string; port: number } }>();
  const reply = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const { parseLine, portHelperCommandSchema } = await import('../../common/port-forward/helper-messages.js');
  for await (const line of createInterface({ input: process.stdin })) {
    const parsed = parseLine(portHelperCommandSchema, line);
    if ('error' in parsed) {
      process.stderr.write(`berth-agent ports: ignored a malformed command: ${parsed.error}\n`);
      const id = /"id"\s*:\s*(\d+)/.exec(line)?.[1];
      if (id) reply({ id: Number(id), ok: false, error: `malformed command: ${parsed.error}` });
      continue;
    }
    const cmd = parsed.value;
    if (cmd.op === 'close') {
      open.get(cmd.key)?.server?.close();
      open.delete(cmd.key);
      reply({ id: cmd.id, key: cmd.key, ok: true });
      continue;
    }
    const entry = open.get(cmd.key) ?? {};
    entry.target = cmd.ip && cmd.targetPort ? { ip: cmd.ip, port: cmd.targetPort } : entry.target;
    if (entry.server) {
      reply({ id: cmd.id, key: cmd.key, ok: true });
      continue;
    }
    await listenPublishedPort({ host: cmd.host, port: cmd.port, proto: cmd.proto }, () => entry.target, async () => connect(sharedPath('forwardSocket'))).then(
      (server) => {
        entry.server = server;
        open.set(cmd.key, entry);
        reply({ id: cmd.id, key: cmd.key, ok: true });
      },
      (e: NodeJS.ErrnoException) => reply({ id: cmd.id, key: cmd.key, ok: false, error: e.code ?? e.message }),
    );
  }
  for (const e of open.values()) e.server?.close();
  return 0;
}

/**
 * `relay SOCKET`: the far end of WslHost.connect where the host cannot open the shared area
 * itself (Windows, through `wsl.exe --exec`). Bytes both ways, half-close passed on.
 */
async function relay(args: string[]): Promise<number> {
  const [socketPath] = args;
  const { posix } = await import('node:path');
  if (!socketPath || args.length !== 1 || !posix.normalize(socketPath).startsWith('/mnt/wsl/')) {
    process.stderr.write('berth-agent: relay takes one socket path under /mnt/wsl/\n');
    return 2;
  }
  const { connect } = await import('node:net');
  const socket = connect({ path: socketPath, allowHalfOpen: true });
  return new Promise<number>((resolve) => {
    socket.once('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(`berth-agent: cannot reach ${socketPath} (${e.code ?? e.message})\n`);
      resolve(1);
    });
    socket.once('connect', () => {
      process.stdin.pipe(socket);
      socket.pipe(process.stdout);
      socket.once('end', () => process.stdout.end());
      process.stdout.once('finish', () => resolve(0));
    });
  });
}

async function superviseCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      lower: { type: 'string' },
      data: { type: 'string' },
      config: { type: 'string' },
      'stop-deadline': { type: 'string', default: '10' },
      'log-lines': { type: 'string', default: '5000' },
      'log-line-bytes': { type: 'string', default: '1024' },
      'log-file-bytes': { type: 'string', default: String(1024 * 1024) },
      'log-files': { type: 'string', default: '4' },
    },
  });
  if (!values.lower || !values.data) {
    process.stderr.write('berth-agent supervise: --lower and --data are required (run `berth-agent start`).\n');
    return 2;
  }
  const { supervise } = await import('./supervisor.js');
  return supervise({
    lower: values.lower.split(':'),
    dataStore: values.data,
    configFile: values.config,
    stopDeadlineMs: Number(values['stop-deadline']) * 1000,
    logs: {
      ringLines: Number(values['log-lines']),
      lineBytes: Number(values['log-line-bytes']),
      fileBytes: Number(values['log-file-bytes']),
      files: Number(values['log-files']),
    },
  });
}

// Exit only once stdout has drained: a pipe is written asynchronously, and process.exit
// would cut a long `logread` short.
main(process.argv.slice(2)).then(
  (code) => (process.stdout.writableEnded ? process.exit(code) : process.stdout.write('', () => process.exit(code))),
  (e: unknown) => {
    process.stderr.write(`berth-agent: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
