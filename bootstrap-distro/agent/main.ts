// berth-agent: the entry point of the agent in the berth distro (see USAGE); one module per command under commands/.
const USAGE = `usage: berth-agent <command>
  start [--data DIR] [--config FILE] [--detach] [--timeout SECONDS] [--hold]
                   assemble the LinuxKit root and run the engine (foreground unless --detach;
                   --hold: load, then wait for "go" on stdin; its end starts nothing)
  stop             stop the services in reverse order and take the root down
  status [--json]  the root's services: state, pid, restarts, last exit, uptime
  shell [CMD…]     a root shell (or CMD) inside the root's namespaces
  logread [-f|-F] [SOURCE…]
                   the log daemon's lines as time,source;msg (-f: then follow; -F: follow only)
  relay SOCKET     copy stdin/stdout to a Unix socket under /mnt/wsl (how the Windows side reaches it through wsl.exe)`;

type Command = { run(args: string[]): Promise<number> };

/** The commands, each a module under commands/ exporting run(args): only the one used is loaded. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: () => import('./commands/start.js'),
  stop: () => import('./commands/stop.js'),
  status: () => import('./commands/status.js'),
  shell: () => import('./commands/shell.js'),
  logread: () => import('./commands/logread.js'),
  ports: () => import('./commands/ports.js'),
  relay: () => import('./commands/relay.js'),
  supervise: () => import('./commands/supervise.js'),
};

/** Exit codes: 0 ok, 1 failed, 2 usage, 3 already running / not running. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    return await (await load()).run(rest);
  } catch (e) {
    // An option the command does not take, or one without its value: say so, not a stack.
    const code = (e as NodeJS.ErrnoException).code;
    if (!code?.startsWith('ERR_PARSE_ARGS_')) throw e;
    process.stderr.write(`berth-agent ${name}: ${(e as Error).message.split('. ')[0]}.\n${USAGE}\n`);
    return 2;
  }
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
