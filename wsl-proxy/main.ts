import { EngineWaker } from '../common/engine-waker.js';
import { logUnhandled } from '../common/unhandled.js';
import { listenUnix, ROOT_ONLY } from '../common/unix-socket.js';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../common/atomic-file.js';
import { BindMounts, recordCreated } from './bind-mounts.js';
import { readContainersProxyEnv } from './containers-proxy-env.js';
import { createDockerProxy } from './docker-proxy.js';
import { defaultUser, withDockerGroup } from './docker-group.js';
import { automountRoot, DistroTranslator } from './distro-translator.js';
import { rewriteInspect } from './inspect.js';
import { announceStarted, claimThrough, requestedPorts } from './port-claims.js';
import { formatProxyMessage, PROXY_EXIT } from './proxy-messages.js';
import { followEvents } from '../common/docker-api.js';
import { endProcessFromPidFile, waitFor } from '../common/process.js';
import { startApiFront, type ApiFront } from './api-front.js';
import { sharedPath } from '../common/shared-area.js';
import { httpJson } from '../common/http-client.js';
import { credentialReplySchema, CREDENTIALS_ROUTE } from '../common/credential-messages.js';
import { parsePasswd } from '../common/passwd.js';
import { credentialRoute } from './credential-route.js';
import { stopUsingBerthCredsStore, useBerthCredsStore } from './docker-config.js';
import { settleAsDaemon } from '../common/settle-daemon.js';

const STATE = '/var/lib/berth-proxy/bind-mounts.json';
const PID_FILE = '/var/lib/berth-proxy/proxy.pid';
/** Where the Node translator listens behind the native front (root only). */
const TRANSLATOR_SOCKET = '/var/lib/berth-proxy/translator.sock';

const log = (text: string) => process.stdout.write(formatProxyMessage({ kind: 'log', text }));

/** The distro's default user (who runs `docker`), as its files say. */
async function theDefaultUser(): Promise<{ name: string; uid: number; gid: number; home: string } | undefined> {
  const [wslConf, passwd] = await Promise.all(['/etc/wsl.conf', '/etc/passwd'].map((f) => readFile(f, 'utf8').catch(() => '')));
  const name = defaultUser(wslConf!, passwd!);
  return parsePasswd(passwd!).find((u) => u.name === name);
}

/** The docker group's gid, with the group made and the distro's default user in it if needed. */
async function dockerGid(user: string | undefined): Promise<number> {
  const group = await readFile('/etc/group', 'utf8').catch(() => '');
  const result = withDockerGroup(group, user);
  if (result.changes.length) {
    await writeFileAtomic('/etc/group', result.text);
    for (const change of result.changes) log(change);
  }
  return result.gid;
}

/**
 * Stops an earlier berth-proxy of this distro (its pid file names it, and its command line
 * confirms it: a reused pid is left alone). A user's own daemon has no such file.
 */
async function retirePredecessor(): Promise<number | undefined> {
  const pid = await endProcessFromPidFile(PID_FILE, ['berth-proxy', 'serve']);
  if (pid) log(`took over from an earlier proxy (pid ${pid})`);
  return pid;
}

/** Whether something answers on a Unix socket (a user's own daemon, or an earlier proxy). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Follows the daemon's events to release the bind mounts of removed containers. */
function followDestroys(mounts: BindMounts, daemon: string): void {
  followEvents(
    daemon,
    { type: ['container'], event: ['destroy'] },
    {
      onEvent: (ev) => {
        const id = ev.Actor?.ID ?? ev.id;
        if (id) void mounts.release(id).catch((e: Error) => log(`release ${id}: ${e.message}`));
      },
    },
  );
}

/**
 * Frees `socket` for this proxy: a proxy left running by a manager that was killed is
 * retired. False when something else (the distro's own dockerd) still serves it.
 */
async function takeOverSocket(socket: string): Promise<boolean> {
  if (!(await stat(socket).catch(() => undefined))) return true;
  // Its native front ends with it, a moment later (it reads the end of its stdin).
  if ((await answers(socket)) && (await retirePredecessor())) await waitFor(async () => !(await answers(socket)), 2000);
  if (await answers(socket)) return false;
  await rm(socket, { force: true });
  return true;
}

/**
 * The distro's socket served by the native front, with `server` (the translator) behind it
 * on a root-only socket: Node serves only what the front hands it. If the front dies the
 * distro has no Docker: the proxy ends, and the manager starts it again.
 */
async function serveBehindFront(server: Server, o: { socket: string; gid: number; daemon: string; relay: string; wake: () => Promise<void> }): Promise<ApiFront> {
  await mkdir(dirname(TRANSLATOR_SOCKET), { recursive: true, mode: 0o700 });
  await listenUnix(server, TRANSLATOR_SOCKET, ROOT_ONLY);
  const front = await startApiFront({ ...o, translator: TRANSLATOR_SOCKET, log });
  front.onExit((why) => {
    process.stderr.write(`berth-proxy: the API front (berth-relay api) ${why}\n`);
    process.exit(PROXY_EXIT.failed);
  });
  return front;
}

async function serve(args: string[]): Promise<number> {
  logUnhandled(log, 'berth-proxy');
  settleAsDaemon();
  const { values } = parseArgs({ args, options: { distro: { type: 'string' }, socket: { type: 'string', default: '/var/run/docker.sock' } } });
  if (!values.distro) {
    process.stderr.write('berth-proxy serve: --distro NAME is required\n');
    return PROXY_EXIT.usage;
  }
  const socket = values.socket;
  if (!(await takeOverSocket(socket))) {
    process.stderr.write(`berth-proxy: ${socket} is already served (your own Docker?); Berth will not replace it. Stop that daemon or turn the integration off.\n`);
    return PROXY_EXIT.socketTaken;
  }
  const autoRoot = await automountRoot();
  const shared = `${autoRoot}wsl`;
  const daemon = sharedPath('dockerSocket', shared);
  const mounts = new BindMounts(values.distro, STATE, shared, log);
  // Root only: another distro's users must not read this distro's folders through here.
  for (const dir of [sharedPath('bindMounts', shared), `${sharedPath('bindMounts', shared)}/${values.distro}`]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }
  await mounts.restore(log);
  const translator = new DistroTranslator(mounts, autoRoot);
  // Resource Saver hears of every request first; a paused engine resumes before it is sent.
  const waker = new EngineWaker(sharedPath('agentSocket', shared));
  const server = createDockerProxy({
    connectDaemon: async () => connect(daemon),
    beforeRequest: () => waker.beforeRequest(),
    translator,
    log,
    onCreated: (id, mappings) => recordCreated(mounts, id, mappings, log),
    onCreateFailed: (mappings) => void mounts.releaseUnused(mappings.map((m) => m.daemon)).catch((e: Error) => log(e.message)),
    rewriteInspect: (c) => rewriteInspect(c, (p) => mounts.clientPath(p)),
    beforeStart: async (id) => claimThrough(sharedPath('portsSocket', shared), await requestedPorts(async () => connect(daemon), id)),
    afterStart: (id) => announceStarted(sharedPath('portsSocket', shared), id),
    // Read at each create: the manager rewrites it when the proxy settings change.
    containerEnv: () => readContainersProxyEnv(sharedPath('containersProxy', shared)),
    // docker-credential-berth: one `docker login` for every distro, kept by the manager.
    berthRoutes: { [CREDENTIALS_ROUTE]: credentialRoute((r) => httpJson(sharedPath('credentialsSocket', shared), { method: 'POST', path: '/credentials', json: r }, credentialReplySchema)) },
  });
  await mkdir('/var/run', { recursive: true }).catch(() => {});
  const user = await theDefaultUser();
  const front = await serveBehindFront(server, { socket, gid: await dockerGid(user?.name), daemon, relay: `${sharedPath('tools', shared)}/bin/berth-relay`, wake: () => waker.beforeRequest() });
  if (user) await useBerthCredsStore(user, log).catch((e: Error) => log(`cannot point ${user.name}'s docker CLI at Berth's credential store: ${e.message}`));
  followDestroys(mounts, daemon);
  await mkdir(dirname(PID_FILE), { recursive: true });
  await writeFile(PID_FILE, `${process.pid}\n`);
  process.stdout.write(formatProxyMessage({ kind: 'serving', socket, distro: values.distro }));
  const stop = () => {
    server.close();
    void front
      .stop()
      .then(() => rm(socket, { force: true }))
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return new Promise(() => {});
}

/** Integration off: the bind mounts and the socket go. */
async function cleanup(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { distro: { type: 'string' }, socket: { type: 'string', default: '/var/run/docker.sock' } } });
  if (!values.distro) return PROXY_EXIT.usage;
  await new BindMounts(values.distro, STATE, `${await automountRoot()}wsl`).dropAll();
  const user = await theDefaultUser();
  if (user) await stopUsingBerthCredsStore(user);
  if (!(await answers(values.socket))) await rm(values.socket, { force: true });
  return PROXY_EXIT.ok;
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (a: string[]) => Promise<number>> = { serve, cleanup };
const fn = command ? commands[command] : undefined;
if (!fn) {
  process.stderr.write('usage: berth-proxy serve|cleanup --distro NAME [--socket PATH]\n');
  process.exit(PROXY_EXIT.usage);
}
fn(rest).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e: Error) => {
    process.stderr.write(`berth-proxy: ${e.message}\n`);
    process.exit(PROXY_EXIT.failed);
  },
);
