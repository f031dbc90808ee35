import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import { ForeignDistroError } from './foreign-distro-error.js';
import { berthHome, HomeLayout } from './home.js';
import { SettingsError } from './settings.js';
import { EXIT, Refused, type CliContext } from './commands/context.js';
import type { WslHost } from '../wsl-host/host.js';
import { disable, enable, restart, start, stop } from './commands/lifecycle.js';
import { status } from './commands/status.js';

export { EXIT } from './commands/context.js';
/** For bin/docker-credential-berth, which finds the host endpoint under it. */
export { berthHome } from './home.js';

/** `berth`'s context on a real machine: $BERTH_HOME, $BERTH_WSL, the process's own stdio. */
export function processContext(): CliContext {
  let wsl: Promise<WslHost> | undefined;
  return {
    home: new HomeLayout(berthHome()),
    // Loaded on first use: the WSL driver (and execa) is ~20 ms of every command's start, and status or start never need it.
    wsl: () => (wsl ??= import('./wsl.js').then((m) => m.wslFromEnv())),
    say: (line) => process.stdout.write(`${line}\n`),
    warn: (text) => process.stderr.write(text),
    async confirm(question) {
      if (!process.stdin.isTTY) return false;
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`${question} [y/N] `);
      rl.close();
      return /^y(es)?$/i.test(answer.trim());
    },
  };
}

/** A command's action: Commander passes the arguments, then the options; each command returns its exit code. */
const act =
  <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
  async (...args: A) => {
    process.exitCode = await fn(...args);
  };

/**
 * The `berth` command line; one module per command under commands/. The heavier ones
 * (diagnose, proxy, the backend) are loaded only when run: the everyday commands need none
 * of their modules (winston, tar, …).
 */
export function program(ctx: CliContext): Command {
  const cli = new Command('berth')
    .description('An open WSL 2 container backend: manage the engine, its distros and integrations.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => ctx.warn(s) });
  addLifecycleCommands(cli, ctx);
  addLogCommands(cli, ctx);
  addDistroCommands(cli, ctx);
  addNetworkCommands(cli, ctx);
  addDataCommands(cli, ctx);
  cli
    .command('dashboard')
    .description('print (and on a desktop open) a one-time login link to the dashboard on 127.0.0.1')
    .action(act(async () => (await import('./commands/dashboard.js')).dashboard(ctx)));
  cli
    .command('backend', { hidden: true })
    .description('the long-running manager (started by start/enable)')
    .option('--idle', 'serve the dashboard without starting the engine')
    .action(act(async (o: { idle?: boolean }) => (await import('./backend/run-backend.js')).runBackend(ctx.home, await ctx.wsl(), { idle: Boolean(o.idle) })));
  return cli;
}

/** enable, disable, start, stop, restart, status. */
function addLifecycleCommands(cli: Command, ctx: CliContext): void {
  cli
    .command('enable')
    .description('turn on the WSL 2 engine: import the distros if needed, then start')
    .action(act(() => enable(ctx)));
  cli
    .command('disable')
    .description('stop the engine and turn the WSL 2 engine off (data kept)')
    .action(act(() => disable(ctx)));
  cli
    .command('start')
    .description('start the engine (idempotent)')
    .action(act(() => start(ctx)));
  cli
    .command('stop')
    .description('stop the engine; data is kept')
    .action(act(() => stop(ctx)));
  cli
    .command('restart')
    .description('stop, then start')
    .action(act(() => restart(ctx)));
  cli
    .command('status')
    .description('state, endpoint, services, integrations')
    .option('--json', 'one JSON object')
    .action(act((o: { json?: boolean }) => status(ctx, Boolean(o.json))));
}

/** logs and diagnose. */
function addLogCommands(cli: Command, ctx: CliContext): void {
  cli
    .command('logs')
    .description('print Berth logs as time,source;msg')
    .option('-f, --follow', 'print what there is, then new lines')
    .option('-F, --follow-only', 'print only new lines')
    .argument('[source...]', 'only these sources (dockerd, containerd, agent, manager…)')
    .action(act(async (sources: string[], o: { follow?: boolean; followOnly?: boolean }) => (await import('./commands/logs.js')).logs(ctx, sources, { follow: Boolean(o.follow), followOnly: Boolean(o.followOnly) })));
  cli
    .command('diagnose')
    .description('collect a diagnostics bundle; prints its path last')
    .action(
      act(async () => {
        const { collectDiagnostics } = await import('./diagnose.js');
        ctx.say(await collectDiagnostics(ctx.home, await ctx.wsl()));
        return EXIT.ok;
      }),
    );
}

/** reset, uninstall and integrate: what touches distros. */
function addDistroCommands(cli: Command, ctx: CliContext): void {
  cli
    .command('reset')
    .description('factory reset: wipe the data distro (images, containers, volumes)')
    .option('--yes', 'really wipe')
    .action(act(async (o: { yes?: boolean }) => (await import('./commands/distros.js')).reset(ctx, Boolean(o.yes))));
  cli
    .command('uninstall')
    .description('unregister both distros (asks before deleting data)')
    .option('--delete-data', 'also delete berth-data without asking')
    .action(act(async (o: { deleteData?: boolean }) => (await import('./commands/distros.js')).uninstall(ctx, Boolean(o.deleteData))));
  cli
    .command('integrate')
    .description('make docker work inside DISTRO (--off undoes it)')
    .argument('<distro>')
    .option('--off', 'remove the integration')
    .action(act(async (distro: string, o: { off?: boolean }) => (await import('./commands/integrate.js')).integrate(ctx, distro, Boolean(o.off))));
}

/** `berth proxy` and `berth certs`. */
function addNetworkCommands(cli: Command, ctx: CliContext): void {
  cli
    .command('proxy')
    .description("the HTTP(S) proxy for the engine's traffic and containers: none, system (the host's), manual, or pac URL; no mode prints it")
    .argument('[mode]', 'none | system | manual | pac')
    .argument('[url]', 'pac: the PAC file, http://, https:// or file://')
    .option('--http <url>', 'manual: the proxy for http:// (http://HOST:PORT)')
    .option('--https <url>', 'manual: the proxy for https://')
    .option('--exclude <list>', 'hosts, .domains, addresses or CIDRs that bypass it, comma-separated')
    .option('--containers', "set the containers' proxy (default: the same as the engine's)")
    .action(
      act(async (mode: string | undefined, url: string | undefined, o: { http?: string; https?: string; exclude?: string; containers?: boolean }) => {
        await (await import('./commands/proxy.js')).proxyCommand(ctx.home, mode, { ...o, ...(url !== undefined ? { pac: url } : {}) }, ctx.say);
        return EXIT.ok;
      }),
    );
  cli
    .command('certs')
    .description("the CAs the engine trusts (the host's and $BERTH_HOME/certs); `containers on|off`: whether containers and build steps trust them too")
    .argument('[what]', 'containers')
    .argument('[value]', 'on | off')
    .action(act(async (what: string | undefined, value: string | undefined) => (await import('./commands/certs.js')).certsCommand(ctx, what, value)));
}

/** `berth data`, `data resize`, `data move`. */
function addDataCommands(cli: Command, ctx: CliContext): void {
  const data = cli
    .command('data')
    .description("berth-data's disk: where it is, its size, what it holds")
    .action(act(async () => (await import('./commands/data.js')).dataInfo(ctx)));
  data
    .command('resize')
    .description('set the disk size limit in GiB (grows while running; shrinking stops the engine and is refused when the data does not fit)')
    .argument('<gib>')
    .action(act(async (gib: string) => (await import('./commands/data.js')).dataResize(ctx, gib)));
  data
    .command('move')
    .description('move the disk image into DIR (stops the engine, copies, verifies, switches, starts, removes the old copy)')
    .argument('<dir>')
    .action(act(async (dir: string) => (await import('./commands/data.js')).dataMove(ctx, dir)));
}

/** Runs `berth ARGS…` and gives the exit code; every error is one line on stderr. */
export async function main(argv: string[], ctx: CliContext = processContext()): Promise<number> {
  try {
    await program(ctx).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    ctx.warn(`berth: ${(e as Error).message}\n`);
    if (e instanceof Refused || e instanceof ForeignDistroError) return EXIT.refused;
    if (e instanceof SettingsError) return EXIT.failed;
    return EXIT.failed;
  }
}
