import { readdirSync, readFileSync } from 'node:fs';
import { commandLine, commandName, processTree, pssParts, worldProcesses } from '../test/helpers/processes.js';

/** What one kind of Berth process holds: how many there are, their open files, memory and threads. */
export interface RoleCensus {
  processes: number;
  fds: number;
  pssMiB: number;
  /** The part of pssMiB that is the processes' own memory (heaps), not their share of mapped files. */
  anonMiB: number;
  threads: number;
}

export interface ProcessCensus {
  /** Berth's own processes by role (the backend, the agent's, the proxies, berth-relay, the links, WSL's stand-ins). */
  roles: Map<string, RoleCensus>;
  /** Berth's total PSS, MiB. */
  berthMiB: number;
  /** The part of berthMiB that is anonymous memory, MiB. */
  berthAnonMiB: number;
  /** The engine's (dockerd, containerd, the shims and what they run), MiB. */
  engineMiB: number;
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

function threadCount(pid: number): number {
  try {
    return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Every process Berth starts (the backend's tree and every process that names the world's
 * root, with their descendants), by role, against the engine's own.
 */
export function processCensus(backend: number, root: string): ProcessCensus {
  const all = new Set([...processTree(backend), ...worldProcesses(root)]);
  const engineRoots = [...all].filter((p) => ['dockerd', 'containerd'].includes(commandName(p)) || commandName(p).startsWith('containerd-shim'));
  const engine = new Set(engineRoots.flatMap((p) => processTree(p)));
  const roles = new Map<string, RoleCensus>();
  let berthMiB = 0;
  let berthAnonMiB = 0;
  let engineMiB = 0;
  for (const pid of all) {
    const pss = pssParts(pid);
    const mib = pss.total / 1024;
    if (engine.has(pid)) {
      engineMiB += mib;
      continue;
    }
    berthMiB += mib;
    berthAnonMiB += pss.anon / 1024;
    const role = roleOf(pid, backend);
    const r = roles.get(role) ?? { processes: 0, fds: 0, pssMiB: 0, anonMiB: 0, threads: 0 };
    roles.set(role, { processes: r.processes + 1, fds: r.fds + fdCount(pid), pssMiB: r.pssMiB + mib, anonMiB: r.anonMiB + pss.anon / 1024, threads: r.threads + threadCount(pid) });
  }
  return { roles, berthMiB, berthAnonMiB, engineMiB };
}

function roleOf(pid: number, backend: number): string {
  if (pid === backend) return 'backend';
  const cmd = commandLine(pid);
  const agent = /berth-agent\.mjs (\S+)/.exec(cmd)?.[1];
  if (agent && /node/.test(cmd)) return `agent ${agent}`;
  if (cmd.includes('berth-proxy.mjs')) return 'proxy';
  const relay = /berth-relay (listen|forward|outbound)/.exec(cmd)?.[1];
  if (relay) return `berth-relay ${relay}`;
  const name = commandName(pid);
  if (['slirp4netns', 'pasta', 'passt'].includes(name)) return name;
  if (/berth-init (start|pid1)/.test(cmd)) return 'distro inits (WSL init)';
  if (cmd.includes('berth-wsl')) return 'berth-wsl clients (wsl.exe)';
  return `other (${name})`;
}
