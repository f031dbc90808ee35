import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serveDashboard, type Dashboard } from '../../installer/dashboard/server.js';
import { stubApiDeps } from '../helpers/dashboard-deps.js';

const SHELL_EXEC = 'e'.repeat(64);
const HANGUP_EXEC = 'f'.repeat(64);

/**
 * A fake Engine API with what a terminal uses: exec create, exec start on an upgraded
 * connection (a shell that says its pid, then echoes), resize; every call recorded.
 */
function fakeEngine(calls: string[], shells: Duplex[]): Server {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      calls.push(`${req.method} ${req.url} ${body}`.trim());
      if (req.url === '/containers/web/exec') return res.writeHead(201).end(JSON.stringify({ Id: body.includes('kill') ? HANGUP_EXEC : SHELL_EXEC }));
      if (req.url === '/containers/gone/exec') return res.writeHead(409).end(JSON.stringify({ message: 'Container gone is not running' }));
      res.writeHead(req.url?.includes('/resize') ? 201 : 200).end();
    });
  });
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    calls.push(`${req.method} ${req.url} (upgraded)`);
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    let skip = Number(req.headers['content-length'] ?? 0) - head.length; // the start request's own JSON
    socket.write('42\r\n/ # ');
    socket.on('data', (d: Buffer) => {
      const input = skip > 0 ? d.subarray(skip) : d;
      skip -= d.length;
      if (input.length > 0) socket.write(`got:${input.toString()}`);
    });
    shells.push(socket);
  });
  return server;
}

describe("a container's terminal, over the dashboard's WebSocket", () => {
  let dir: string;
  let engine: Server;
  let dash: Dashboard;
  const calls: string[] = [];
  const shells: Duplex[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-terminal-'));
    engine = fakeEngine(calls, shells);
    await new Promise<void>((r) => engine.listen(join(dir, 'docker.sock'), r));
    dash = await serveDashboard(stubApiDeps(dir, join(dir, 'docker.sock')), { port: 0, assetsDir: dir, log: () => {} });
  });
  afterAll(() => {
    dash?.close();
    engine?.close();
    for (const s of shells) s.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(container: string): Promise<{ ws: WebSocket; output: () => string; closed: Promise<{ code: number; reason: string }> }> {
    const login = await new Promise<string>((resolve) => request(dash.loginUrl(), (res) => resolve(String(res.headers['set-cookie']).split(';')[0]!)).end());
    const ws = new WebSocket(`ws://127.0.0.1:${dash.port}/api/v1/containers/${container}/terminal?cols=100&rows=30`, { headers: { cookie: login, origin: dash.url } });
    let text = '';
    ws.on('message', (d: Buffer) => (text += d.toString()));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return { ws, output: () => text, closed };
  }
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    return check();
  };

  it('opens a shell with a TTY at the page’s size, passes keys and resizes, and hangs the shell up when the page goes', async () => {
    calls.length = 0;
    const t = await open('web');
    expect(await until(() => t.output().includes('/ # '))).toBe(true);
    expect(t.output()).not.toContain('42'); // the pid line is the server's, not the user's
    const created = JSON.parse(calls[0]!.replace('POST /containers/web/exec ', '')) as { Tty: boolean; AttachStdin: boolean; ConsoleSize: number[] };
    expect(created).toMatchObject({ Tty: true, AttachStdin: true, ConsoleSize: [30, 100] });
    t.ws.send(JSON.stringify({ type: 'input', data: 'echo hi\r' }));
    expect(await until(() => t.output().includes('got:echo hi\r'))).toBe(true);
    t.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    expect(await until(() => calls.includes(`POST /exec/${SHELL_EXEC}/resize?h=40&w=120`))).toBe(true);
    t.ws.close();
    expect(await until(() => calls.some((c) => c.includes('kill -HUP 42')))).toBe(true);
    expect(calls).toContain(`POST /exec/${HANGUP_EXEC}/start {"Detach":true}`);
  });

  it('closes the page’s socket with the reason on a message that is not a terminal’s', async () => {
    calls.length = 0;
    const t = await open('web');
    t.ws.send('rm -rf /');
    expect(await t.closed).toEqual({ code: 1008, reason: expect.stringContaining('not a terminal message') });
    expect(t.output()).not.toContain('rm -rf'); // never reached the shell
    expect(await until(() => calls.some((c) => c.includes('kill -HUP 42')))).toBe(true); // closed by the server: hung up all the same
  });

  it('closes when the shell ends by itself, and then signals nothing (its pid may be reused)', async () => {
    calls.length = 0;
    const t = await open('web');
    expect(await until(() => t.output().includes('/ # '))).toBe(true);
    shells.at(-1)!.end();
    expect(await t.closed).toEqual({ code: 1000, reason: 'the shell ended' });
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.filter((c) => c.includes('kill'))).toEqual([]);
  });

  it("answers the engine's refusal (a stopped container) before any WebSocket exists", async () => {
    await expect(open('gone')).rejects.toThrow(/Unexpected server response: 409/);
  });
});
