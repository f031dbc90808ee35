import { describe, expect, it } from 'vitest';
import { Integrations } from '../../installer/integrations.js';
import { formatProxyMessage, PROXY_EXIT } from '../../wsl-proxy/proxy-messages.js';
import { FakeWsl, type FakeProcess } from '../helpers/fake-wsl.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { OwnedTimers } from '../../installer/backend/clock.js';

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`never happened: ${what}`);
};

function setup() {
  const wsl = new FakeWsl();
  wsl.distros = [
    { name: 'Ubuntu', state: 'Stopped', version: 2, isDefault: true },
    { name: 'Legacy', state: 'Stopped', version: 1, isDefault: false },
  ];
  const proxies: FakeProcess[] = [];
  wsl.onExec = (p) => proxies.push(p);
  const logs: string[] = [];
  const clock = new ManualClock();
  const integrations = new Integrations(wsl, (source, line) => logs.push(`${source}: ${line}`), clock);
  const serve = (p: FakeProcess) => p.stdout.write(formatProxyMessage({ kind: 'log', text: 'restored 0 bind mounts' }) + formatProxyMessage({ kind: 'serving', socket: '/var/run/docker.sock', distro: 'Ubuntu' }));
  return { wsl, proxies, logs, integrations, serve, clock };
}

/** Ubuntu integrated, its proxy serving. */
async function servingUbuntu(w: ReturnType<typeof setup>): Promise<void> {
  const synced = w.integrations.sync(['Ubuntu']);
  await until(() => w.proxies.length === 1, 'the proxy started');
  w.serve(w.proxies[0]!);
  await synced;
}

describe('integrations', () => {
  it("are running once the distro's proxy says it serves; its log lines reach Berth's log", async () => {
    const w = setup();
    const synced = w.integrations.sync(['Ubuntu']);
    await until(() => w.proxies.length === 1, 'the proxy started');
    expect(w.proxies[0]!.argv).toEqual(['/mnt/wsl/berth/tools/bin/berth-proxy', 'serve', '--distro', 'Ubuntu']);
    w.serve(w.proxies[0]!);
    await synced;
    expect(w.integrations.status()).toEqual([{ distro: 'Ubuntu', state: 'running' }]);
    expect(w.logs).toContain('proxy:Ubuntu: restored 0 bind mounts');
    await w.integrations.stopAll();
  });

  it('ask WSL for its list only when a distro is to be started (a start with nothing new skips its two calls)', async () => {
    const w = setup();
    let lists = 0;
    const list = w.wsl.list.bind(w.wsl);
    w.wsl.list = () => (lists++, list());
    await w.integrations.sync([]);
    expect(lists).toBe(0);
    await servingUbuntu(w);
    expect(lists).toBe(1);
    await w.integrations.sync(['Ubuntu']); // serving already
    expect(lists).toBe(1);
    await w.integrations.stopAll();
  });

  it('restart a proxy that crashed, and report a conflict (another dockerd on the socket) without restarting', async () => {
    const w = setup();
    const synced = w.integrations.sync(['Ubuntu']);
    await until(() => w.proxies.length === 1, 'the proxy started');
    w.serve(w.proxies[0]!);
    await synced;
    w.proxies[0]!.stderr.write('berth-proxy: boom\n');
    w.proxies[0]!.end(PROXY_EXIT.failed);
    await until(() => w.integrations.status()[0]?.state === 'restarting', 'restarting');
    expect(w.integrations.status()[0]!.detail).toBe('berth-proxy: boom');
    expect(w.proxies).toHaveLength(1); // not before its backoff delay
    w.clock.advance(Math.max(...w.clock.pending()));
    await until(() => w.proxies.length === 2, 'a second proxy');
    w.serve(w.proxies[1]!);
    await until(() => w.integrations.status()[0]?.state === 'running', 'running again');

    w.proxies[1]!.stderr.write('berth-proxy: /var/run/docker.sock is already served (your own Docker?)\n');
    w.proxies[1]!.end(PROXY_EXIT.socketTaken);
    await until(() => w.integrations.status()[0]?.state === 'conflict', 'conflict');
    expect(w.integrations.status()[0]!.detail).toMatch(/already served/);
    w.clock.advance(60_000); // longer than any restart delay
    await new Promise((r) => setTimeout(r, 10));
    expect(w.proxies).toHaveLength(2);
    await w.integrations.stopAll();
  });

  it('start a proxy waiting out its backoff at once when synced again (the engine back after a `wsl --shutdown`)', async () => {
    const w = setup();
    await servingUbuntu(w);
    // Its distro went down with WSL: the proxy exited, and waits out its backoff.
    w.proxies[0]!.end(PROXY_EXIT.failed);
    await until(() => w.integrations.status()[0]?.state === 'restarting', 'restarting');
    expect(w.clock.pending()).toHaveLength(1);
    const again = w.integrations.sync(['Ubuntu']);
    await until(() => w.proxies.length === 2, 'a second proxy, before any delay passed');
    expect(w.clock.pending().filter((ms) => ms < 30_000)).toEqual([]); // the scheduled restart is gone (30 s: the serving wait)
    w.serve(w.proxies[1]!);
    await again;
    expect(w.integrations.status()).toEqual([{ distro: 'Ubuntu', state: 'running' }]);
    w.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 10));
    expect(w.proxies).toHaveLength(2); // the cancelled restart never runs
    await w.integrations.stopAll();
  });

  it('leave no timer behind once stopped: a crash just before the stop is not restarted after it', async () => {
    const w = setup();
    await servingUbuntu(w);
    w.proxies[0]!.end(PROXY_EXIT.failed);
    await until(() => w.integrations.status()[0]?.state === 'restarting', 'restarting');
    await w.integrations.stopAll();
    expect(w.clock.pending()).toEqual([]);
    w.clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 10));
    expect(w.proxies).toHaveLength(1);
  });
});

describe('owned timers', () => {
  it('fire once each, cancel one by one, and cancel all at a stop', () => {
    const clock = new ManualClock();
    const timers = new OwnedTimers(clock);
    const fired: string[] = [];
    timers.after(10, () => fired.push('a'));
    const cancelB = timers.after(20, () => fired.push('b'));
    timers.after(30, () => fired.push('c'));
    clock.advance(10);
    cancelB();
    timers.cancelAll();
    clock.advance(100);
    expect(fired).toEqual(['a']);
    expect(clock.pending()).toEqual([]);
  });

  it('refuse a WSL 1 distro and a missing one, with the reason', async () => {
    const w = setup();
    await w.integrations.sync(['Legacy', 'Gone']);
    expect(w.integrations.status()).toEqual([
      { distro: 'Legacy', state: 'failed', detail: 'Legacy is WSL 1; integration needs WSL 2' },
      { distro: 'Gone', state: 'failed', detail: 'there is no WSL distro named Gone' },
    ]);
    expect(w.proxies).toHaveLength(0);
  });
});

describe('a rejection in the restart of a proxy (issue #25: nothing awaited it)', () => {
  it('is a log line naming the distro, and the backend process keeps running', async () => {
    const w = setup();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const synced = w.integrations.sync(['Ubuntu']);
      await until(() => w.proxies.length === 1, 'the proxy started');
      w.serve(w.proxies[0]!);
      await synced;
      // From now on every command in the distro fails to even start (wsl.exe gone, say).
      w.wsl.onRun = () => {
        throw new Error('wsl.exe: the service is shutting down');
      };
      w.proxies[0]!.end(PROXY_EXIT.failed);
      await until(() => w.clock.pending().length > 0, 'the restart scheduled');
      w.clock.advance(Math.max(...w.clock.pending()));
      await until(() => w.logs.some((l) => l.includes('starting its proxy again failed')), 'the failed restart logged');
      expect(w.logs).toContain('integration: Ubuntu: starting its proxy again failed: wsl.exe: the service is shutting down');
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await w.integrations.stopAll();
    }
  });
});
