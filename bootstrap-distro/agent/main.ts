// berth-agent: the entry point of the agent in the berth distro (see USAGE); one module per command under commands/.
const USAGE = `usage: berth-agent <command>
  start [--data DIR] [--config FILE] [--detach] [--timeout SECONDS]
                   assemble the LinuxKit root and run the engine (foreground unless --detach)
  stop             stop the services in reverse order and take the root down
  status [--json]  the root's services: state, pid, restarts, last exit, uptime
  shell [CMD…]     a root shell (or CMD) inside the root's namespaces
  logread [-f|-F] [SOURCE…]
                   the log daemon's lines as time,source;msg (-f: then follow; -F: follow only)
  relay SOCKET     copy stdin/stdout to a Unix socket under /mnt/wsl (how the Windows side reaches it through wsl.exe)`;

/** Exit codes: 0 ok, 1 failed, 2 usage, 3 already running / not running. Each command loads only its own module. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return (await import('./commands/start.js')).start(rest);
    case 'stop':
      return (await import('./commands/stop.js')).stopAgent();
    case 'status':
      return (await import('./commands/status.js')).status(rest);
    case 'shell':
      return (await import('./commands/status.js')).shell(rest);
    case 'logread':
      return (await import('./commands/logread.js')).logread(rest);
    case 'ports':
      return (await import('./commands/ports.js')).ports();
    case 'relay':
      return (await import('./commands/relay.js')).relay(rest);
    case 'supervise':
      return (await import('./commands/supervise.js')).superviseCommand(rest);
    default:
      process.stderr.write(`${USAGE}\n`);
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
