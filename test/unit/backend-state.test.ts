import { describe, expect, it } from 'vitest';
import { Backend } from '../../installer/backend/backend.js';
import { STATUS_CHANGE_MAX_WAIT_MS } from '../../installer/backend/phase.js';
import type { BackendParts } from '../../installer/backend/parts.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { ForeignDistroError } from '../../installer/foreign-distro-error.js';
import { SettingsError, settingsSchema, type Settings } from '../../installer/settings.js';
import { serveOrStop } from '../../installer/backend/run-backend.js';

const flush = () => new Promise((r) => setTimeout(r, 0));
async function settle(b: Backend, state: string) {
  for (let i = 0; i < 100 && b.currentState !== state; i++) await flush();
  expect(b.currentState).toBe(state);
}

function world(overrides: { install?: BackendParts['install']; loadSettings?: () => Promise<Settings> } = {}) {
  const calls: string[] = [];
  const clock = new ManualClock();
  let onEngineExit: ((why: string) => void) | undefined;
  let startGate: Promise<void> = Promise.resolve();
  const settings: Settings = settingsSchema.parse({ integratedDistros: ['Ubuntu'] });
  const parts: BackendParts = {
    install: overrides.install ?? (async (progress) => (calls.push('install'), progress('importing berth'))),
    syncEngineConfig: async () => undefined,
    engine: {
      start: async (_deadline, onExit, _limits, _onNamespace, prerequisite) => {
        calls.push('engine.start');
        await prerequisite;
        await startGate;
        onEngineExit = onExit;
      },
      stop: async () => void calls.push('engine.stop'),
      agentStatus: async () => ({ services: [{ name: 'dockerd', state: 'running', pid: 7, restarts: 0 }] }),
    },
    network: {
      configure: async () => {},
      syncCertificates: async () => {},
      attach: async () => void calls.push('network.attach'),
      detach: async () => void calls.push('network.detach'),
      close: async () => void calls.push('network.close'),
      status: () => ({ state: 'up', helper: 'fake', address: '192.168.65.100', gateway: '192.168.65.2', restarts: 0 }),
    },
    ports: { start: async () => void calls.push('ports.start'), stop: async () => void calls.push('ports.stop'), error: undefined },
    integrations: { sync: async (d) => void calls.push(`integrations.sync ${d.join(',')}`), stopAll: async () => void calls.push('integrations.stopAll'), status: () => [{ distro: 'Ubuntu', state: 'running' }] },
    integratedDistros: async (s) => s.integratedDistros,
    loadSettings: overrides.loadSettings ?? (async () => settings),
    endpointReady: Promise.resolve(),
    clock,
    log: { info: () => {}, warn: () => {}, error: () => {} },
    endpoint: 'unix:///run/berth/docker.sock',
  };
  return {
    backend: new Backend(parts, settings),
    parts,
    calls,
    clock,
    exitEngine: (why: string) => onEngineExit?.(why),
    holdStart: () => {
      let release!: () => void;
      startGate = new Promise((r) => (release = r));
      return () => release();
    },
  };
}

describe('the backend state machine', () => {
  it('starts: install, engine, link, then ports and the integrated distros; status says running', async () => {
    const w = world();
    w.backend.start();
    await settle(w.backend, 'running');
    for (let i = 0; i < 10; i++) await flush();
    expect(w.calls).toEqual(['install', 'engine.start', 'network.attach', 'ports.stop', 'ports.start', 'integrations.sync Ubuntu']);
    const s = await w.backend.status();
    expect(s).toMatchObject({ state: 'running', progress: 'running', services: [{ name: 'dockerd', state: 'running' }], integrations: [{ distro: 'Ubuntu', state: 'running' }] });
    expect(s.error).toBeUndefined();
  });

  it('says running only once the integrated distros serve, and an integrate during the start is not lost', async () => {
    const w = world();
    let releaseSync!: () => void;
    const synced: string[][] = [];
    let distros = ['Ubuntu'];
    w.parts.integratedDistros = async () => distros;
    w.parts.integrations.sync = (d) => {
      synced.push(d);
      return synced.length === 1 ? new Promise<void>((r) => (releaseSync = r)) : Promise.resolve();
    };
    w.backend.start();
    for (let i = 0; i < 20 && synced.length === 0; i++) await flush();
    expect(synced).toEqual([['Ubuntu']]);
    expect(await w.backend.status()).toMatchObject({ state: 'starting', progress: 'starting the ports and the integrations' });
    // `berth integrate Debian` arrives while the first sync is under way.
    distros = ['Ubuntu', 'Debian'];
    await w.backend.reloadIntegrations();
    releaseSync();
    await settle(w.backend, 'running');
    expect(synced).toEqual([['Ubuntu'], ['Ubuntu', 'Debian']]);
  });

  it('says running only once the host endpoint serves: the bring-up starts before the servers listen', async () => {
    const w = world();
    let served!: () => void;
    w.parts.endpointReady = new Promise<void>((r) => (served = r));
    w.backend.start();
    for (let i = 0; i < 30; i++) await flush();
    expect(w.calls).toContain('integrations.sync Ubuntu');
    expect(w.backend.currentState).toBe('starting');
    served();
    await settle(w.backend, 'running');
  });

  it('stops the engine the bring-up started when a server cannot listen, and says why', async () => {
    const w = world();
    w.backend.start();
    const servers: Array<{ close(): unknown }> = [];
    const control = { close: () => undefined };
    const taken = Object.assign(new Error('listen EADDRINUSE: /run/berth/docker.sock'), { code: 'EADDRINUSE' });
    await expect(
      serveOrStop(w.backend, servers, [
        async () => [control],
        async () => {
          throw taken;
        },
      ]),
    ).rejects.toBe(taken);
    expect(servers).toEqual([control]);
    expect(w.calls).toContain('engine.stop');
    expect(w.backend.currentState).toBe('stopped');
  });

  it('restarts: the engine stopped, then brought up again to running', async () => {
    const w = world();
    w.backend.start();
    await settle(w.backend, 'running');
    w.calls.length = 0;
    await w.backend.restartEngine();
    await settle(w.backend, 'running');
    for (let i = 0; i < 10; i++) await flush();
    expect(w.calls.slice(0, 2)).toEqual(['integrations.stopAll', 'ports.stop']);
    expect(w.calls).toContain('engine.stop');
    expect(w.calls.indexOf('engine.start')).toBeGreaterThan(w.calls.indexOf('engine.stop'));
  });

  it('retries a failed start with the backoff, 1 s then 3 s, and a success resets it', async () => {
    let failures = 2;
    const w = world({
      install: async () => {
        if (failures-- > 0) throw new Error('disk full');
      },
    });
    w.backend.start();
    await settle(w.backend, 'failed');
    expect(await w.backend.status()).toMatchObject({ state: 'failed', error: 'disk full', progress: 'failed; retrying in 1s' });
    expect(w.clock.pending()).toEqual([1000]);
    w.clock.advance(1000);
    await settle(w.backend, 'failed');
    expect(w.clock.pending()).toEqual([3000]);
    w.clock.advance(3000);
    await settle(w.backend, 'running');
    expect(w.clock.pending()).toEqual([]);
  });

  it('does not retry a refusal (a foreign distro needs the user); retry() tries again at once', async () => {
    let refuse = true;
    const w = world({
      install: async () => {
        if (refuse) throw new ForeignDistroError('a WSL distro named "berth" exists but was not made by Berth');
      },
    });
    w.backend.start();
    await settle(w.backend, 'failed');
    expect(await w.backend.status()).toMatchObject({ refused: true, progress: 'refused' });
    expect(w.clock.pending()).toEqual([]);
    refuse = false;
    w.backend.retry();
    await settle(w.backend, 'running');
    expect((await w.backend.status()).refused).toBeUndefined();
  });

  it('runs one bring-up at a time: an engine that ends meanwhile gets one more, not two in parallel', async () => {
    const w = world();
    w.backend.start();
    await settle(w.backend, 'running');
    const release = w.holdStart();
    w.exitEngine('the attached process exited with code 137');
    w.exitEngine('again'); // a second report while the first restart is under way
    w.backend.retry(); // not failed: nothing to do
    for (let i = 0; i < 10; i++) await flush();
    expect(w.calls.filter((c) => c === 'engine.start')).toHaveLength(2);
    release();
    await settle(w.backend, 'running');
    for (let i = 0; i < 20; i++) await flush();
    // The one queued behind it ran after it, not beside it.
    expect(w.calls.filter((c) => c === 'engine.start')).toHaveLength(3);
    expect((await w.backend.status()).events?.some((e) => e.includes('engine stopped unexpectedly: the attached process exited with code 137'))).toBe(true);
  });

  it('says what a stop could not undo, and still stops every other part', async () => {
    const w = world();
    w.backend.start();
    await settle(w.backend, 'running');
    w.parts.engine.stop = async () => {
      w.calls.push('engine.stop');
      throw new Error("berth-data's store is still mounted at the shared area");
    };
    await w.backend.stop();
    expect(w.backend.currentState).toBe('stopped');
    expect(w.backend.stopProblems).toEqual(["stopping the engine: berth-data's store is still mounted at the shared area"]);
    expect(w.calls.slice(-4)).toEqual(['integrations.stopAll', 'ports.stop', 'engine.stop', 'network.close']);
    const clean = world();
    clean.backend.start();
    await settle(clean.backend, 'running');
    await clean.backend.stop();
    expect(clean.backend.stopProblems).toEqual([]);
  });

  it('logs a link that fails to detach when the engine ends, and starts the engine again (issue #25: nothing caught it)', async () => {
    const w = world();
    const errors: string[] = [];
    w.parts.log.error = (line) => void errors.push(line);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      w.backend.start();
      await settle(w.backend, 'running');
      w.parts.network.detach = async () => Promise.reject(new Error('slirp4netns: no such process'));
      w.exitEngine('the attached process exited with code 137');
      for (let i = 0; i < 20; i++) await flush();
      expect(errors).toContain('detaching the engine link: slirp4netns: no such process');
      expect(unhandled).toEqual([]);
      expect(w.calls.filter((c) => c === 'engine.start').length).toBeGreaterThanOrEqual(1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('stops once, whoever asks, and even while starting; nothing starts after', async () => {
    const w = world();
    const release = w.holdStart();
    w.backend.start();
    for (let i = 0; i < 5; i++) await flush();
    const [a, b] = [w.backend.stop(), w.backend.stop()];
    release();
    await Promise.all([a, b]);
    expect(w.backend.currentState).toBe('stopped');
    expect(w.calls.filter((c) => c === 'engine.stop')).toHaveLength(1);
    expect(w.calls).not.toContain('ports.start');
    w.exitEngine('late');
    w.backend.retry();
    await flush();
    expect(w.calls.filter((c) => c === 'engine.start')).toHaveLength(1);
  });

  it('stops the engine alone on request and starts it again, the backend staying up', async () => {
    const w = world();
    w.backend.start();
    await settle(w.backend, 'running');
    await w.backend.stopEngine();
    expect(w.backend.currentState).toBe('stopped');
    expect(w.calls).toContain('network.detach');
    expect(w.calls).not.toContain('network.close'); // Berth DNS and the proxies stay for the next start
    w.exitEngine('the attached process exited'); // the stop's own exit: no restart
    w.backend.start();
    await settle(w.backend, 'running');
    expect(w.calls.filter((c) => c === 'engine.start')).toHaveLength(2);
  });

  it('keeps the last good settings when the file turns invalid, and says so in status', async () => {
    let broken = false;
    const good = settingsSchema.parse({ integratedDistros: ['Ubuntu'] });
    const w = world({
      loadSettings: async () => {
        if (broken) throw new SettingsError('settings /x/settings.json: "integratedDistros": expected array; fix that key (the file was left as it is)');
        return good;
      },
    });
    w.backend.start();
    await settle(w.backend, 'running');
    broken = true;
    const s = await w.backend.status();
    expect(s.settingsError).toMatch(/"integratedDistros": expected array/);
    expect(await w.backend.reloadIntegrations()).toEqual([{ distro: 'Ubuntu', state: 'running' }]);
    await expect(w.backend.reloadNetwork()).rejects.toThrow(SettingsError);
    broken = false;
    expect((await w.backend.status()).settingsError).toBeUndefined();
  });

  it('attaches the engine link once the engine says its namespace is there, while it still starts, and only once', async () => {
    const w = world();
    let release!: () => void;
    w.parts.engine.start = async (_deadline, _onExit, _limits, onNamespace) => {
      w.calls.push('engine.start');
      onNamespace?.();
      onNamespace?.(); // said twice: still one link
      await new Promise<void>((r) => (release = r));
      w.calls.push('engine answers');
    };
    w.backend.start();
    for (let i = 0; i < 20 && !w.calls.includes('network.attach'); i++) await flush();
    expect(w.calls).toEqual(['install', 'engine.start', 'network.attach']);
    expect(w.backend.currentState).toBe('starting');
    release();
    await settle(w.backend, 'running');
    expect(w.calls.filter((c) => c === 'network.attach')).toHaveLength(1);
  });

  it('takes an early link down again when the engine then fails to start', async () => {
    const w = world();
    w.parts.engine.start = async (_deadline, _onExit, _limits, onNamespace) => {
      w.calls.push('engine.start');
      onNamespace?.();
      throw new Error('the engine did not answer /_ping within 60s');
    };
    w.backend.start();
    await settle(w.backend, 'failed');
    expect(w.calls).toEqual(['install', 'engine.start', 'network.attach', 'network.detach']);
    expect((await w.backend.status()).error).toBe('the engine did not answer /_ping within 60s');
  });

  it('answers a wait for a change at the next step, at once if it changed already, or after the wait', async () => {
    const w = world();
    const release = w.holdStart();
    w.backend.start();
    for (let i = 0; i < 20 && !w.calls.includes('engine.start'); i++) await flush();
    const seen = { state: 'starting', progress: 'starting the engine' };
    let woke = false;
    const waiting = w.backend.whenChanged(seen, 5000).then(() => (woke = true));
    for (let i = 0; i < 10; i++) await flush();
    expect(woke).toBe(false);
    release();
    await waiting;
    expect((await w.backend.status()).progress).not.toBe(seen.progress);
    await settle(w.backend, 'running');
    // Already different: at once, no timer left behind.
    await w.backend.whenChanged(seen, 5000);
    expect(w.clock.pending()).toEqual([]);
    // Nothing changes: after the wait, at most STATUS_CHANGE_MAX_WAIT_MS.
    let timedOut = false;
    const idle = w.backend.whenChanged({ state: 'running', progress: 'running' }, 60_000).then(() => (timedOut = true));
    expect(w.clock.pending()).toEqual([STATUS_CHANGE_MAX_WAIT_MS]);
    w.clock.advance(STATUS_CHANGE_MAX_WAIT_MS);
    await idle;
    expect(timedOut).toBe(true);
  });
});
