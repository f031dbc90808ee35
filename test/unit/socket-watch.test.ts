import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketWatch } from '../../common/socket-watch.js';

const LONG_BACKSTOP_MS = 60_000; // longer than the test's own timeout: only the socket can wake the wait

// The start and the supervisor wait for dockerd's socket, and `berth start` for the
// backend's, with this instead of a connect every few milliseconds.
describe('waiting for a Unix socket to appear', () => {
  const dirs: string[] = [];
  const servers: Server[] = [];
  const watches: SocketWatch[] = [];
  afterEach(() => {
    for (const w of watches.splice(0)) w.close();
    for (const s of servers.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'berth-socket-watch-'));
    dirs.push(d);
    return d;
  };
  const watch = (path: string) => {
    const w = new SocketWatch(path);
    watches.push(w);
    return w;
  };

  it('wakes when the socket is made, not only at the backstop', async () => {
    const path = join(dir(), 'docker.sock');
    const w = watch(path);
    const woken = w.changed(LONG_BACKSTOP_MS);
    const server = createServer();
    servers.push(server);
    server.listen(path);
    await woken;
  });

  it('does not wake for another file of the directory', async () => {
    const d = dir();
    const w = watch(join(d, 'docker.sock'));
    let woke = false;
    void w.changed(LONG_BACKSTOP_MS).then(() => (woke = true));
    writeFileSync(join(d, 'docker.pid'), '1\n', { mode: 0o644 });
    // The other file's event has come and gone by the time a second watch sees its own.
    const second = new SocketWatch(join(d, 'other.pid'));
    watches.push(second);
    const seen = second.changed(LONG_BACKSTOP_MS);
    writeFileSync(join(d, 'other.pid'), '2\n', { mode: 0o644 });
    await seen;
    expect(woke).toBe(false);
  });

  it('keeps a change that came between two waits, and falls back to the backstop without one', async () => {
    const path = join(dir(), 'backend.sock');
    const w = watch(path);
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    await w.changed(LONG_BACKSTOP_MS); // the change before this wait is not lost
    await w.changed(5); // nothing more happens: the backstop ends it
  });

  it('works from the backstop alone where the directory is not there yet, and close ends a wait', async () => {
    const w = watch(join(dir(), 'not-yet', 'docker.sock'));
    await w.changed(5);
    const pending = w.changed(LONG_BACKSTOP_MS);
    w.close();
    await pending;
  });
});
