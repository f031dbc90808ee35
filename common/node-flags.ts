/**
 * V8 flags for Berth's long-lived Node processes (the backend, the agent's supervisor, the
 * distros' proxies, the UDP port helper). Their heaps are small and their bytes are off-heap
 * Buffers, so a 1 MiB young generation (V8's default grows it to 16 MiB per semi-space)
 * and one GC helper thread cost little time and keep tens of MiB out of each process's
 * resident memory (measured: 108 → 81 MiB PSS for a process that allocates while serving).
 * `--expose-gc` lets each give its heap back once it goes idle (common/idle-gc.ts).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1', '--expose-gc'] as const;
