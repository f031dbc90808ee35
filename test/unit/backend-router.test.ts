import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../installer/backend/backend.js';
import { backendRouter } from '../../installer/backend/router.js';
import type { BackendStatus } from '../../installer/backend/status-schema.js';
import { httpRequest } from '../../common/http-client.js';

const status: BackendStatus = { state: 'starting', endpoint: 'unix:///x/docker.sock', services: [], integrations: [], progress: 'starting the engine' };

// `berth start` follows a start with GET /status/change (one request a step, answered when
// the step changes), where it used to ask GET /api/v1/status every 15 ms.
describe("the backend's control socket", () => {
  const dirs: string[] = [];
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function control() {
    const dir = mkdtempSync(join(tmpdir(), 'berth-router-'));
    dirs.push(dir);
    const waits: Array<{ seen: { state: string; progress: string }; waitMs: number }> = [];
    const backend = { whenChanged: async (seen: { state: string; progress: string }, waitMs: number) => void waits.push({ seen, waitMs }) } as unknown as Backend;
    const server = createServer(backendRouter(backend, () => {}, { loginUrl: () => 'http://127.0.0.1:1/login', serveApi: (_req, res) => res.writeHead(418).end(), status: async () => status }));
    servers.push(server);
    const socket = join(dir, 'backend.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    return { ask: (path: string) => httpRequest(socket, { path }), waits };
  }

  it('answers the status once the backend says it changed from what the caller saw', async () => {
    const c = await control();
    const r = await c.ask('/status/change?state=starting&progress=syncing+trusted+CAs&waitMs=5000');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual(status);
    expect(c.waits).toEqual([{ seen: { state: 'starting', progress: 'syncing trusted CAs' }, waitMs: 5000 }]);
  });

  it('refuses a wait that is not whole milliseconds up to 5000, naming the fix', async () => {
    const c = await control();
    for (const bad of ['abc', '-1', '1.5', '5001']) {
      const r = await c.ask(`/status/change?state=running&progress=running&waitMs=${bad}`);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ message: `waitMs takes whole milliseconds from 0 to 5000, not "${bad}"` });
    }
    expect(c.waits).toEqual([]);
  });

  it('still says which endpoints there are for an unknown one, query or not', async () => {
    const c = await control();
    const r = await c.ask('/status/changes?waitMs=1');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).message).toMatch(/^no such endpoint: GET \/status\/changes\?waitMs=1; use .*GET \/status\/change/);
  });
});
