import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UPDATE_NOTICE, watchOwnCode } from '../../installer/backend/update-check.js';
import { describeStatus } from '../../installer/commands/status.js';
import { notificationsFor } from '../../installer/dashboard/notify.js';

describe("the dashboard's notifications", () => {
  it('says when the engine changes state, not when the page opens', () => {
    expect(notificationsFor(undefined, { state: 'running' })).toEqual([]);
    expect(notificationsFor({ state: 'stopped' }, { state: 'starting' })).toEqual(['The engine is starting.']);
    expect(notificationsFor({ state: 'starting' }, { state: 'running' })).toEqual(['The engine is running.']);
    expect(notificationsFor({ state: 'running' }, { state: 'failed', error: 'dockerd exited 1' })).toEqual(['The engine failed: dockerd exited 1.']);
    expect(notificationsFor({ state: 'running' }, { state: 'running' })).toEqual([]);
  });

  it('says when Resource Saver pauses and resumes the engine', () => {
    expect(notificationsFor({ state: 'running' }, { state: 'running', paused: true })).toEqual(['Resource Saver paused the engine: nothing ran for a while. The next docker command resumes it.']);
    expect(notificationsFor({ state: 'running', paused: true }, { state: 'running', paused: false })).toEqual(['Resource Saver resumed the engine.']);
  });

  it('says once, and at once on a page just opened, what needs the user: a full disk, proxy credentials, an update', () => {
    const full = { state: 'running', diskFull: 'Prune images: `docker system prune`.' };
    expect(notificationsFor(undefined, full)).toEqual(['berth-data is full. Prune images: `docker system prune`.']);
    expect(notificationsFor(full, full)).toEqual([]);
    const asks = { state: 'running', proxyProblem: 'the proxy at proxy.corp:3128 asks for credentials: `berth proxy manual …`' };
    expect(notificationsFor({ state: 'running' }, asks)).toEqual([`Proxy credentials needed: ${asks.proxyProblem}`]);
    expect(notificationsFor(asks, asks)).toEqual([]);
    expect(notificationsFor({ state: 'running' }, { state: 'running', proxyProblem: 'the PAC file at http://wpad/ did not load' })).toEqual([]); // not about credentials
    expect(notificationsFor(undefined, { state: 'running', update: UPDATE_NOTICE })).toEqual([UPDATE_NOTICE]);
  });
});

describe('an update that needs a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-update-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is seen once Berth's entry file is replaced (as an update or a rebuild does), and `berth status` says what to run", async () => {
    const entry = join(dir, 'berth.mjs');
    writeFileSync(entry, '// version 1');
    const check = await watchOwnCode(entry);
    expect(await check()).toEqual({});
    writeFileSync(join(dir, 'new.mjs'), '// version 2');
    await rename(join(dir, 'new.mjs'), entry);
    expect(await check()).toEqual({ update: UPDATE_NOTICE });
    const lines = describeStatus({ state: 'running', endpoint: 'unix:///x', services: [], integrations: [], update: UPDATE_NOTICE });
    expect(lines).toContain(`  update: ${UPDATE_NOTICE}`);
  });
});
