import { createInterface } from 'node:readline';
import { startHelper } from '../../common/helper-start.js';
import { parseRelayLine } from '../../common/port-forward/native-relay.js';
import { endProcessFromPidFile, type RunningHelper } from '../../common/process.js';

/**
 * The outbound relay's port inside the engine's namespace. Just below the range dockerd
 * picks random published ports from (berth.yml), and no well-known service's; a container
 * cannot publish it (docker-proxy could not bind it there), which docs/networking.md says.
 */
export const OUTBOUND_RELAY_PORT = 60999;

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
  // stdin is not its lifeline: like slirp4netns, it outlives a killed backend, which ends it by its pid file.
  const args = ['outbound', '--netns', o.netns, '--port', String(OUTBOUND_RELAY_PORT), '--gateway', o.gateway];
  try {
    return await startHelper({ program: o.binary, args, logFile: o.logFile, pidFile: o.pidFile, readyOn: 'stdout', ready: saysListening, readyWord: 'listening' });
  } catch (e) {
    throw new Error(`the engine link's outbound relay (berth-relay) did not start (${(e as Error).message}); see ${o.logFile}`, { cause: e });
  }
}

/** Its first line: ready on OUTBOUND_RELAY_PORT, or what it said instead. */
function saysListening(stdout: NodeJS.ReadableStream): Promise<string | true> {
  return new Promise((resolve) => {
    createInterface({ input: stdout }).once('line', (line) => {
      const parsed = parseRelayLine(line);
      resolve(parsed && 'ready' in parsed && parsed.ready === String(OUTBOUND_RELAY_PORT) ? true : `it said ${JSON.stringify(line.slice(0, 200))}`);
    });
  });
}
