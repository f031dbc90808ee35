import { watch } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import type { BackendStatus } from './backend.js';
import { askBackend, backendStatus, ensureBackend, stopBackend } from './backend-client.js';
import { removeDockerContext } from './docker-context.js';
import { BERTH_DISTRO, DATA_DISTRO, ForeignDistroError, readState } from './distros.js';
import { writeFileAtomic } from '../wsl-host/linux/atomic-file.js';
import { Engine } from './engine.js';
import { berthHome, HomeLayout } from './home.js';
import { loadSettings, SettingsError, updateSettings } from './settings.js';
import { wslFromEnv } from './wsl.js';
import { formatLine, readLogs } from '../bootstrap-distro/logd/client.js';

/** Exit codes, as README documents them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3, refused: 4 } as const;

class Refused extends Error {}

const home = new HomeLayout(berthHome());
const wsl = wslFromEnv();
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Waits for the backend to report running or failed, showing its progress as it changes. */
async function waitForEngine(timeoutMs: number): Promise<BackendStatus> {
  let last = '';
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await backendStatus(home);
    if (s?.progress && s.progress !== last && s.state === 'starting') {
      last = s.progress;
      process.stderr.write(`… ${s.progress}\n`);
    }
    if (s && (s.state === 'running' || s.state === 'failed')) return s;
    if (!s) throw new Error(`the backend stopped while starting; see ${home.backendOut}`);
    if (Date.now() > end) throw new Error(`Berth did not start within ${timeoutMs / 1000}s (last step: ${last}); see ${join(home.logsDir, 'berth.log')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function start(): Promise<number> {
  await loadSettings(home.settings); // an invalid file stops here, with the key and the reason
  await ensureBackend(home);
  if ((await backendStatus(home))?.state === 'failed') await askBackend(home, 'POST', '/retry');
  const s = await waitForEngine(15 * 60_000);
  if (s.state === 'failed' && s.refused) {
    await stopBackend(home);
    throw new Refused(s.error ?? 'refused');
  }
  if (s.state === 'failed') {
    process.stderr.write(`berth: the engine failed to start: ${s.error}\nBerth keeps retrying in the background; \`berth stop\` gives up, \`berth logs\` shows more.\n`);
    return EXIT.failed;
  }
  say(`Berth is running. Docker API: ${s.endpoint} (docker --context berth …)`);
  return EXIT.ok;
}

async function stop(): Promise<number> {
  if (await stopBackend(home)) {
    say('Berth stopped.');
    return EXIT.ok;
  }
  // No backend (it was killed): an engine may still run without it.
  const engine = new Engine(wsl, () => {});
  if (await engine.agentStatus()) {
    await engine.stop();
    say('Berth stopped (the engine was running without its backend).');
  } else {
    say('Berth is not running.');
  }
  return EXIT.ok;
}

async function status(json: boolean): Promise<number> {
  const settings = await loadSettings(home.settings);
  const s: BackendStatus = (await backendStatus(home)) ?? {
    state: 'stopped',
    endpoint: `unix://${home.dockerSocket}`,
    services: [],
    integrations: settings.integratedDistros.map((distro) => ({ distro, state: 'stopped' })),
  };
  if (json) {
    say(JSON.stringify(s));
  } else {
    say(`Berth: ${s.state}${s.state === 'starting' && s.progress ? ` (${s.progress})` : ''}`);
    if (s.error) say(`  error: ${s.error}`);
    say(`  endpoint: ${s.endpoint}`);
    for (const svc of s.services) say(`  ${svc.name.padEnd(12)} ${svc.state.padEnd(10)} pid ${String(svc.pid ?? '-').padEnd(7)} restarts ${svc.restarts}`);
    for (const i of s.integrations) say(`  integration ${i.distro}: ${i.state}`);
    const n = s.network;
    if (n && s.state === 'running') {
      say(`  network      ${n.state.padEnd(10)} ${n.helper}${n.pid ? ` pid ${n.pid}` : ''}, ${n.address} via ${n.gateway} (the host)${n.dns ? `, Berth DNS ${n.dns}` : ''}, restarts ${n.restarts}`);
      if (n.error) say(`    ${n.error}`);
    }
  }
  return s.state === 'stopped' ? EXIT.notRunning : EXIT.ok;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function unregisterIfPresent(name: string): Promise<boolean> {
  if (!(await wsl.list()).some((d) => d.name.toLowerCase() === name)) return false;
  await wsl.unregister(name);
  return true;
}

export function program(): Command {
  const cli = new Command('berth')
    .description('An open WSL 2 container backend: manage the engine, its distros and integrations.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  // Commander passes the arguments, then the options; each command returns its exit code.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const act = <A extends any[]>(fn: (...args: A) => Promise<number>) => async (...args: A) => {
    process.exitCode = await fn(...args);
  };

  cli.command('enable').description('turn on the WSL 2 engine: import the distros if needed, then start').action(act(async () => {
    await loadSettings(home.settings);
    await updateSettings(home.settings, (s) => (s.wslEngine = true));
    return start();
  }));
  cli.command('disable').description('stop the engine and turn the WSL 2 engine off (data kept)').action(act(async () => {
    const code = await stop();
    await updateSettings(home.settings, (s) => (s.wslEngine = false));
    return code;
  }));
  cli.command('start').description('start the engine (idempotent)').action(act(start));
  cli.command('stop').description('stop the engine; data is kept').action(act(stop));
  cli.command('restart').description('stop, then start').action(act(async () => {
    await stop();
    return start();
  }));
  cli.command('status').description('state, endpoint, services, integrations').option('--json', 'one JSON object').action(act((opts: { json?: boolean }) => status(Boolean(opts.json))));
  cli.command('logs').description('print Berth logs as time,source;msg').option('-f, --follow', 'print what there is, then new lines').option('-F, --follow-only', 'print only new lines').argument('[source...]', 'only these sources (dockerd, containerd, agent, manager…)').action(act(async (sources: string[], opts: { follow?: boolean; followOnly?: boolean }) => printLogs(sources, Boolean(opts.follow || opts.followOnly), Boolean(opts.followOnly))));
  cli.command('diagnose').description('collect a diagnostics bundle; prints its path last').action(act(async () => {
    const { collectDiagnostics } = await import('./diagnose.js');
    say(await collectDiagnostics(home, wsl));
    return EXIT.ok;
  }));
  cli.command('reset').description('factory reset: wipe the data distro (images, containers, volumes)').option('--yes', 'really wipe').action(act(async (opts: { yes?: boolean }) => {
    if (!opts.yes) throw new Refused('reset deletes every image, container and volume in Berth; run `berth reset --yes` to do it');
    await stop();
    if (await unregisterIfPresent(DATA_DISTRO)) say(`${DATA_DISTRO} wiped.`);
    const state = await readState(home.state);
    delete state.dataImage;
    await writeFileAtomic(home.state, JSON.stringify(state));
    return (await loadSettings(home.settings)).wslEngine ? start() : EXIT.ok;
  }));
  cli.command('uninstall').description('unregister both distros (asks before deleting data)').option('--delete-data', 'also delete berth-data without asking').action(act(async (opts: { deleteData?: boolean }) => {
    await stop();
    if (await unregisterIfPresent(BERTH_DISTRO)) say(`${BERTH_DISTRO} unregistered.`);
    const deleteData = opts.deleteData || (await confirm(`Delete ${DATA_DISTRO} with all images, containers and volumes?`));
    if (deleteData && (await unregisterIfPresent(DATA_DISTRO))) say(`${DATA_DISTRO} deleted.`);
    else if (!deleteData) say(`${DATA_DISTRO} kept (its data survives; \`berth uninstall --delete-data\` removes it).`);
    await removeDockerContext();
    await rm(home.state, { force: true });
    await updateSettings(home.settings, (s) => (s.wslEngine = false));
    return EXIT.ok;
  }));
  cli.command('integrate').description('make docker work inside DISTRO (--off undoes it)').argument('<distro>').option('--off', 'remove the integration').action(act(async (distro: string, opts: { off?: boolean }) => {
    if ([BERTH_DISTRO, DATA_DISTRO].includes(distro.toLowerCase())) throw new Refused(`${distro} is one of Berth's own distros, not a place to integrate with`);
    if (!opts.off) {
      const d = (await wsl.list()).find((x) => x.name.toLowerCase() === distro.toLowerCase());
      if (!d) throw new Refused(`there is no WSL distro named ${distro}; see \`wsl -l -v\``);
      if (d.version !== 2) throw new Refused(`${distro} is a WSL 1 distro; integration needs WSL 2 (wsl --set-version ${distro} 2)`);
    }
    await updateSettings(home.settings, (s) => {
      s.integratedDistros = s.integratedDistros.filter((x) => x.toLowerCase() !== distro.toLowerCase());
      if (!opts.off) s.integratedDistros.push(distro);
    });
    const live = await askBackend<Array<{ distro: string; state: string; detail?: string }>>(home, 'POST', '/integrations/reload');
    let mine = live?.find((i) => i.distro.toLowerCase() === distro.toLowerCase());
    // Already being started by the backend (Berth itself is starting): wait for the outcome.
    for (const end = Date.now() + 60_000; mine && ['starting', 'restarting'].includes(mine.state) && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 250));
      mine = (await backendStatus(home))?.integrations?.find((i) => i.distro.toLowerCase() === distro.toLowerCase()) ?? mine;
    }
    if (opts.off) say(`${distro}: integration off.`);
    else if (!live) say(`${distro}: integration on; it starts with Berth (\`berth start\`).`);
    else if (mine?.state === 'running') say(`${distro}: integration on: docker and /var/run/docker.sock work there${mine.detail ? ` (${mine.detail})` : ''}.`);
    else throw new Error(`${distro}: the integration did not start: ${mine?.state ?? 'unknown'}${mine?.detail ? `: ${mine.detail}` : ''}`);
    return EXIT.ok;
  }));
  cli
    .command('proxy')
    .description("the HTTP(S) proxy for the engine's traffic and containers: none, system (the host's) or manual; no mode prints it")
    .argument('[mode]', 'none | system | manual')
    .option('--http <url>', 'manual: the proxy for http:// (http://HOST:PORT)')
    .option('--https <url>', 'manual: the proxy for https://')
    .option('--exclude <list>', 'hosts, .domains, addresses or CIDRs that bypass it, comma-separated')
    .option('--containers', "set the containers' proxy (default: the same as the engine's)")
    .action(act(async (mode: string | undefined, opts: { http?: string; https?: string; exclude?: string; containers?: boolean }) => {
      const { proxyCommand } = await import('./proxy-command.js');
      await proxyCommand(home, mode, opts, say);
      return EXIT.ok;
    }));
  // Loaded only here: the everyday commands need none of the backend's modules (winston, tar, …).
  cli.command('backend', { hidden: true }).description('the long-running manager (started by start/enable)').action(act(async () => (await import('./backend.js')).runBackend(home, wsl)));
  return cli;
}

/**
 * berth logs: the log daemon's lines (the engine's services, onboot actions, the agent)
 * merged by time with the manager's own; -f dumps then follows, -F follows only.
 */
async function printLogs(sources: string[], follow: boolean, followOnly: boolean): Promise<number> {
  const file = join(home.logsDir, 'berth.log');
  const sourceOf = (line: string) => line.slice(line.indexOf(',') + 1, line.indexOf(';'));
  const wanted = (line: string) => sources.length === 0 || sources.includes(sourceOf(line)) || sources.includes(sourceOf(line).replace(/\.out$/, ''));
  let offset = 0;
  const managerLines = async (): Promise<string[]> => {
    const size = (await stat(file).catch(() => undefined))?.size ?? 0;
    if (size < offset) offset = 0; // rotated
    if (size === offset) return [];
    const text = await readFile(file, 'utf8').then((t) => t.slice(offset));
    offset = size;
    return text.split('\n').filter((l) => l && wanted(l));
  };
  const daemon = await wsl.connect(BERTH_DISTRO, '/mnt/wsl/berth/log.sock').catch(() => undefined);
  if (!daemon) process.stderr.write('berth: the engine is not running; only the manager\'s log is shown (the engine\'s persisted logs are in berth-data under /srv/berth-data/log).\n');
  const print = (line: string) => wanted(line) && say(line);
  if (!follow) {
    const lines = await managerLines();
    if (daemon) await readLogs(daemon, 'dump', [], (e) => lines.push(formatLine(e)));
    // By time only (a stable sort keeps each source's own order within one instant).
    const at = (line: string) => Date.parse(line.slice(0, line.indexOf(','))) || 0;
    for (const l of lines.sort((a, b) => at(a) - at(b))) print(l);
    return EXIT.ok;
  }
  const existing = await managerLines();
  if (!followOnly) existing.forEach(print);
  if (daemon) void readLogs(daemon, followOnly ? 'follow' : 'dumpAndFollow', [], (e) => print(formatLine(e))).catch(() => undefined);
  watch(home.logsDir, () => void managerLines().then((ls) => ls.forEach(print)));
  return new Promise(() => {});
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e instanceof Refused || e instanceof ForeignDistroError) {
      process.stderr.write(`berth: ${e.message}\n`);
      return EXIT.refused;
    }
    if (e instanceof SettingsError) {
      process.stderr.write(`berth: ${e.message}\n`);
      return EXIT.failed;
    }
    process.stderr.write(`berth: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
}

