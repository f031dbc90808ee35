import { DAEMON_MALLOC_ENV, DAEMON_NODE_FLAGS } from '../../common/node-flags.js';
import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type * as z from '../../common/zod.js';
import { withLock } from '../../common/lock.js';
import { HttpError, httpJson } from '../../common/http-client.js';
import { BACKEND_ROUTES, type BackendReply, type BackendRoute } from './api.js';
import type { HomeLayout } from '../home.js';
import { BERTH_REPO } from '../repo.js';
import { SocketWatch } from '../../common/socket-watch.js';
import { pidExists, sleep } from '../../common/process.js';
import { withExtraCaCertsRestored } from '../../common/extra-ca-env.js';

const BACKEND_TIMEOUT_MS = 10_000;
const BACKEND_SOCKET_BACKSTOP_MS = 25;

/**
 * One request to the backend's control socket; undefined when no backend answers. A backend
 * that answers with an error (an invalid settings file for /network/reload) throws it.
 */
export async function askBackend<R extends BackendRoute>(home: HomeLayout, route: R, query?: Record<string, string>): Promise<BackendReply<R> | undefined> {
  const { method, path, reply } = BACKEND_ROUTES[route];
  const target = query ? `${path}?${new URLSearchParams(query).toString()}` : path;
  try {
    return (await httpJson(home.backendSocket, { method, path: target, timeoutMs: BACKEND_TIMEOUT_MS }, reply as z.ZodType<unknown>)) as BackendReply<R>;
  } catch (e) {
    if (e instanceof HttpError && e.kind === 'unreachable') return undefined;
    throw e;
  }
}

export const backendStatus = (home: HomeLayout) => askBackend(home, 'status');

/**
 * Starts `berth backend` detached unless one answers; concurrent callers start one. Resolves
 * with the running backend's status. One that answers at once needs no lock (the lock only
 * keeps two callers from starting two): a warm `berth start` saves ~15 ms of locking.
 * `whileSpawning` runs once the backend is spawned, while it loads (only when this call spawned it).
 */
export async function ensureBackend(home: HomeLayout, options: { idle?: boolean; whileSpawning?: () => void } = {}): Promise<BackendReply<'status'>> {
  const up = await backendStatus(home);
  if (up) return up;
  await mkdir(home.runDir, { recursive: true });
  return withLock(home.startLock, async () => {
    const meanwhile = await backendStatus(home);
    if (meanwhile) return meanwhile;
    await mkdir(home.logsDir, { recursive: true });
    const out = await open(home.backendOut, 'a');
    const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(BERTH_REPO, 'bin/berth'), 'backend', ...(options.idle ? ['--idle'] : [])], {
      detached: true,
      stdio: ['ignore', out.fd, out.fd],
      env: { ...withExtraCaCertsRestored(process.env), ...DAEMON_MALLOC_ENV },
    });
    child.unref();
    options.whileSpawning?.();
    await out.close();
    // Asked when its socket appears (its Node start takes most of a cold start's CPU; a poll every few ms took more).
    const socket = new SocketWatch(home.backendSocket);
    try {
      for (const end = Date.now() + 10_000; Date.now() < end;) {
        const started = await backendStatus(home);
        if (started) return started;
        if (child.exitCode !== null) throw new Error(`the backend exited at once (code ${child.exitCode}); see ${home.backendOut}`);
        await socket.changed(BACKEND_SOCKET_BACKSTOP_MS);
      }
    } finally {
      socket.close();
    }
    throw new Error(`the backend did not answer within 10s; see ${home.backendOut}`);
  });
}

/** Asks the backend to stop and waits until it is gone. */
export async function stopBackend(home: HomeLayout, timeoutMs = 60_000): Promise<boolean> {
  const s = await backendStatus(home);
  if (!s) return false;
  await askBackend(home, 'stop');
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!(await backendStatus(home)) && !(s.pid && pidExists(s.pid))) return true;
    await sleep(100);
  }
  throw new Error(`the backend (pid ${s.pid}) did not stop within ${timeoutMs / 1000}s`);
}
