// How `berth-agent start` waits for the engine it started: dockerd's socket, the supervisor's status.
import { paths } from './paths.js';
import { READY_BACKSTOP_MS } from './supervisor-paths.js';
import { SocketWatch } from '../../common/socket-watch.js';

/** The start's supervisor, as the wait sees it. */
export interface StartedSupervisor {
  exited: Promise<number>;
  /** Its last lines of output, for a start that failed. */
  lastOutput(): Promise<string[]>;
}

/** The service whose socket `start` waits for. */
const ENGINE_SERVICE = 'dockerd';

/**
 * What a start says to the engine once berth-engine-init runs: the supervisor's control
 * socket and dockerd's `/_ping`. Loaded while the engine starts, not before its spawn: these
 * bring zod and the schemas, ~9 ms of a warm start's critical path in the berth distro.
 */
export const engineTalk = async () => {
  const [{ askStop, currentStatus }, { dockerPing }] = await Promise.all([import('./control-client.js'), import('../../common/docker-api.js')]);
  return { askStop, currentStatus, dockerPing };
};
export type EngineTalk = Awaited<ReturnType<typeof engineTalk>>;

/** How often a start asks the supervisor how it goes while the engine's socket is silent: each asking costs both sides CPU that the engine's start could use. */
const STATUS_POLL_MS = 100;

/** Undefined once the engine answers; else the exit code of a start that failed (said on stderr, the supervisor stopped). */
export async function untilReady(supervisor: StartedSupervisor, timeoutSeconds: number, talk: EngineTalk): Promise<number | undefined> {
  const socket = new SocketWatch(paths.dockerSocket);
  try {
    return await untilAnswers(supervisor, timeoutSeconds, socket, talk);
  } finally {
    socket.close();
  }
}

async function untilAnswers(supervisor: StartedSupervisor, timeoutSeconds: number, socket: SocketWatch, { askStop, currentStatus, dockerPing }: EngineTalk): Promise<number | undefined> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let statusDue = 0;
  for (;;) {
    const early = await Promise.race([supervisor.exited, socket.changed(READY_BACKSTOP_MS).then(() => undefined)]);
    if (early !== undefined) {
      process.stderr.write(`berth-agent: the engine did not start (exit ${early}). Last output:\n  ${(await supervisor.lastOutput()).join('\n  ')}\n`);
      return 1;
    }
    // The engine's own socket first: looking costs next to nothing until dockerd listens.
    const answers = await dockerPing(paths.dockerSocket, 500);
    if (!answers && Date.now() < statusDue) continue;
    statusDue = Date.now() + STATUS_POLL_MS;
    const s = await currentStatus();
    // Ready once the engine answers and the supervisor has it (its own look may lag a poll behind).
    if (s?.engine === 'ready' || (answers && s?.state === 'running')) return undefined;
    // Waiting on is pointless once the engine's own service has given up.
    const engineFailed = s?.services.some((svc) => svc.name === ENGINE_SERVICE && svc.state === 'failed');
    if (Date.now() > deadline || engineFailed) {
      const why = engineFailed ? `the ${ENGINE_SERVICE} service keeps crashing` : `the engine did not answer /_ping within ${timeoutSeconds}s`;
      process.stderr.write(`berth-agent: ${why}; stopping. Services: ${JSON.stringify(s?.services ?? [])}\nLast output:\n  ${(await supervisor.lastOutput()).join('\n  ')}\n`);
      await askStop();
      await supervisor.exited;
      return 1;
    }
  }
}
