/**
 * V8 flags for Berth's long-lived Node processes (the backend, the agent's supervisor, the
 * distros' proxies, the UDP port helper). Their heaps are small and their bytes are off-heap
 * Buffers, so a 1 MiB young generation (V8's default grows it to 16 MiB per semi-space)
 * and one GC helper thread cost little time and keep tens of MiB out of each process's
 * resident memory (measured: 108 → 81 MiB PSS for a process that allocates while serving).
 * `--expose-gc` lets each give its heap back once it goes idle (common/idle-gc.ts).
 * `--no-opt`: no optimizing compiler (TurboFan). These processes are the control plane (the
 * bytes go through berth-relay and the kernel), and its code and compile zones were ~7.6 MiB
 * of Berth's PSS at rest (ports bench: 122.0 → 114.4 MiB). What it costs, measured: the
 * log daemon's ingest, run in-process, 600 → 850 µs per 1000 lines (still 1.2 M lines/s,
 * for the engine's own services' logs); agent start → /_ping unchanged within its noise
 * (268-293 ms against 267-281).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1', '--expose-gc', '--no-opt'] as const;

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
 * answers), a stop, a status. DAEMON_NODE_FLAGS are for what stays resident; on these they
 * only cost time (a small young generation scavenged over and over while the modules load,
 * no optimizing compiler): `berth-agent status` in the distro took 72-75 ms with them and
 * 60-65 ms without (6 runs each). On a whole warm `berth start` the ~10 ms is within this
 * machine's noise (8 interleaved starts each: medians 617 and 601 ms).
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
