import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseRelayLine } from '../../common/port-forward/native-relay.js';
import { endProcessFromPidFile, exitReason, type RunningHelper } from '../../common/process.js';

/**
 * The outbound relay's port inside the engine's namespace. Just below the range dockerd
 * picks random published ports from (berth.yml), and no well-known service's; a container
 * cannot publish it (docker-proxy could not bind it there), which docs/networking.md says.
 */
export const OUTBOUND_RELAY_PORT = 60999;
const READY_WITHIN_MS = 5000;

export interface OutboundRelayOptions {
  /** berth-relay. */
  binary: string;
  /** The engine's network namespace as the host sees it. */
  netns: string;
  /** The gateway that stands for the host: the relay opens it as the host's loopback. */
  gateway: string;
  pidFile: string;
  logFile: string;
}

/**
 * Starts the engine link's TCP path, `berth-relay outbound`: its listener inside the engine's
 * namespace, its connections opened from the host's. Resolves once it listens. One left by a
 * killed backend is ended first (it would hold the port).
 */
export async function startOutboundRelay(o: OutboundRelayOptions): Promise<RunningHelper> {
  await endProcessFromPidFile(o.pidFile, ['berth-relay', 'outbound', o.netns]);
  const logFd = openSync(o.logFile, 'a', 0o600);
  const args = ['outbound', '--netns', o.netns, '--port', String(OUTBOUND_RELAY_PORT), '--gateway', o.gateway];
  // stdin is not its lifeline: like slirp4netns, it outlives a killed backend, which ends it by its pid file.
  const child = spawn(o.binary, args, { stdio: ['ignore', 'pipe', logFd] });
  closeSync(logFd);
  const exited = exitReason(child);
  if (child.pid) await writeFile(o.pidFile, `${child.pid}\n`, { mode: 0o600 });
  const ready = new Promise<string | true>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      const parsed = parseRelayLine(line);
      resolve(parsed && 'ready' in parsed && parsed.ready === String(OUTBOUND_RELAY_PORT) ? true : `it said ${JSON.stringify(line.slice(0, 200))}`);
    });
    setTimeout(() => resolve(`not listening within ${READY_WITHIN_MS} ms`), READY_WITHIN_MS).unref();
  });
  const outcome = await Promise.race([ready, exited]);
  if (outcome !== true) {
    child.kill('SIGKILL');
    throw new Error(`the engine link's outbound relay (berth-relay) did not start (${outcome}); see ${o.logFile}`);
  }
  return { child, exited };
}
