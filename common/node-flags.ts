/**
 * How Berth's long-lived Node processes (the backend, the agent's supervisor, the distros'
 * proxies, the UDP port helper) run. Their heaps are small and their bytes are off-heap
 * Buffers, so a small young generation and one GC helper thread cost little time and keep
 * tens of MiB out of each process's resident memory (measured: 108 → 81 MiB PSS for a
 * process that allocates while serving).
 *
 * On the command line only Node's own option, one GC helper thread. V8's flags
 * (DAEMON_V8_FLAGS) each daemon sets on itself once its modules are loaded
 * (common/settle-daemon.ts): V8 keys its code cache on its flags, so any V8 flag on the
 * command line makes it refuse Node's compiled cache of the built-in modules, and every
 * `node:http`, `node:net`… is compiled from source at each start. Measured: importing five of them took
 * 24 ms with no flag and 40 with `--expose-gc` alone; the supervisor's modules, 52 and
 * 67 ms (with the four flags this list had before), in the berth distro.
 */
export const DAEMON_NODE_FLAGS = ['--v8-pool-size=1'] as const;

/**
 * `--semi-space-growth-factor=1`: the young generation stays at its first 1 MiB, as
 * `--max-semi-space-size=1` kept it (V8's default grows it to 16 MiB per semi-space); that
 * flag only acts at the heap's creation, this one at each growth. `--no-opt`: no optimizing
 * compiler (TurboFan). These processes are the control plane (the bytes go through
 * berth-relay and the kernel), and its code and compile zones were ~7.6 MiB of Berth's PSS
 * at rest (ports bench: 122.0 → 114.4 MiB); the log daemon's ingest, run in-process, went
 * 600 → 850 µs per 1000 lines (still 1.2 M lines/s). `--expose-gc` lets each give its heap
 * back once it goes idle (common/idle-gc.ts).
 */
export const DAEMON_V8_FLAGS = ['--semi-space-growth-factor=1', '--no-opt', '--expose-gc'] as const;

/**
 * glibc malloc settings for the same processes. By default glibc raises its mmap threshold
 * (up to 32 MiB) each time a large block is freed, so later large Buffers (building the
 * images, a tarball on its way) come from the heap, fragment it and are never given back:
 * the backend sat at 98 MiB PSS after `berth enable` built the images, 37.8 MiB of it a
 * heap of freed blocks. A fixed 32 KiB threshold keeps every large block in its own mapping,
 * returned when freed: 66 MiB, heap 7 MiB, and `docker load` of 256 MiB through the host
 * endpoint as fast (1.5-1.8 s either way, 8 runs).
 */
export const DAEMON_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '32768' } as const;

/** DAEMON_MALLOC_ENV as lines of a launch script. */
export const daemonMallocExports = () =>
  Object.entries(DAEMON_MALLOC_ENV)
    .map(([name, value]) => `export ${name}=${value}\n`)
    .join('');

/**
 * berth-agent's commands that last a moment: a start (the manager's detaches once the engine
 * answers), a stop, a status. They run with Node's defaults: the daemon flags are for what
 * stays resident. (Measured when those flags were V8's and on the command line: `berth-agent
 * status` in the distro took 72-75 ms with them and 60-65 ms without, 6 runs each.)
 */
export const MOMENTARY_AGENT_COMMANDS = ['start', 'stop', 'status'] as const;

/** The berth distro's `berth-agent` launcher: NODE runs BUNDLE, with the daemon flags unless the command lasts a moment. */
export function agentLauncher(node: string, bundle: string): string {
  const run = (flags: readonly string[]) => ['exec', node, ...flags, bundle, '"$@"'].join(' ');
  return `#!/bin/sh
${daemonMallocExports()}case "$1" in ${MOMENTARY_AGENT_COMMANDS.join('|')}) ${run([])} ;; esac
${run(DAEMON_NODE_FLAGS)}
`;
}
