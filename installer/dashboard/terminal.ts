import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import * as z from '../../common/zod.js';
import { httpJson, httpRequest, HttpError, openUpgraded, type HttpTarget } from '../../common/http-client.js';
import { jsonOrUndefined } from '../../common/json-text.js';
import { CONTAINER } from './docker-routes.js';

/** One WebSocket server for every terminal; it owns no port (the dashboard's server hands it upgrades). */
const sockets = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });

/** A container's terminal: a WebSocket at this path (the page's script opens it). */
export const TERMINAL_PATH = /^\/api\/v1\/containers\/([^/]+)\/terminal$/;

/** What the page sends, one JSON text frame each: keystrokes, and its size when it changes. */
export const terminalMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input'), data: z.string().max(64 * 1024) }).strict(),
  z.object({ type: z.literal('resize'), cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) }).strict(),
]);

/**
 * bash where the image has it, else sh (busybox and alpine images have only sh). It first
 * says its pid in the container, on a line the page never sees: the engine leaves an exec
 * running when its connection closes, so the shell is hung up by that pid when the page goes.
 */
const SHELL = ['/bin/sh', '-c', 'echo "$$"; if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh'];
/** Output waits for the browser past this much unsent (a `yes` in the shell must not fill the backend's memory). */
const HIGH_WATER = 1 << 20;

const execCreated = z.object({ Id: z.string().regex(/^[a-f0-9]{64}$/) });

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** A shell with a TTY in the container, as the Engine API gives it: an exec, started on an upgraded connection. */
export interface ContainerShell {
  stream: Duplex;
  resize(size: TerminalSize): Promise<void>;
  /** Hangs the shell up (SIGHUP, as a closed terminal does) and closes the connection. */
  close(): Promise<void>;
}

/** The shell's first line, its pid; what came after it stays in the stream. */
function readPid(stream: Duplex): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error('the shell did not start within 10 s')), 10_000);
    const done = (result: number | Error) => {
      clearTimeout(timer);
      stream.off('data', onData).off('close', onClose);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onClose = () => done(new Error(`the shell ended at once: ${seen.toString('utf8').trim() || 'no output'}`));
    const onData = (d: Buffer) => {
      seen = Buffer.concat([seen, d]);
      const eol = seen.indexOf(0x0a);
      if (eol < 0) return;
      stream.pause();
      if (eol + 1 < seen.length) stream.unshift(seen.subarray(eol + 1));
      const pid = Number(seen.subarray(0, eol).toString('utf8').trim());
      done(Number.isInteger(pid) && pid > 0 ? pid : new Error(`the shell did not start: ${seen.subarray(0, eol).toString('utf8').trim()}`));
    };
    stream.on('data', onData).on('close', onClose);
  });
}

export async function openShell(daemon: HttpTarget, container: string, size: TerminalSize): Promise<ContainerShell> {
  const consoleSize = [size.rows, size.cols];
  const exec = await httpJson(
    daemon,
    {
      method: 'POST',
      path: `/containers/${encodeURIComponent(container)}/exec`,
      json: { AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Cmd: SHELL, Env: ['TERM=xterm-256color'], ConsoleSize: consoleSize },
    },
    execCreated,
  );
  const stream = await openUpgraded(daemon, { method: 'POST', path: `/exec/${exec.Id}/start`, json: { Detach: false, Tty: true, ConsoleSize: consoleSize } });
  const resize = async ({ cols, rows }: TerminalSize) => {
    const r = await httpRequest(daemon, { method: 'POST', path: `/exec/${exec.Id}/resize?h=${rows}&w=${cols}` });
    if (r.status >= 300) throw new HttpError(`resizing the terminal: the engine answered ${r.status} ${r.body.trim()}`, 'status', r.status);
  };
  const pid = await readPid(stream).catch((e: Error) => (stream.destroy(), Promise.reject(e)));
  // Daemons before API 1.42 ignore ConsoleSize: the size is set again once the shell runs.
  await resize(size).catch(() => undefined);
  let shellEnded = false; // by itself (`exit`): its pid may since be another process's
  stream.once('end', () => (shellEnded = true));
  const close = async () => {
    stream.destroy();
    if (shellEnded) return;
    const hangUp = { AttachStdout: false, AttachStderr: false, Cmd: ['/bin/sh', '-c', `kill -HUP ${pid}`] };
    const other = await httpJson(daemon, { method: 'POST', path: `/containers/${encodeURIComponent(container)}/exec`, json: hangUp }, execCreated);
    await httpRequest(daemon, { method: 'POST', path: `/exec/${other.Id}/start`, json: { Detach: true } });
  };
  return { stream, resize, close };
}

/** The size the page asks for in its URL (`?cols=&rows=`), within bounds; 80×24 when absent. */
export function sizeFrom(url: URL): TerminalSize {
  const n = (key: string, fallback: number) => {
    const v = Number(url.searchParams.get(key));
    return Number.isInteger(v) && v >= 1 && v <= 1000 ? v : fallback;
  };
  return { cols: n('cols', 80), rows: n('rows', 24) };
}

/** An HTTP answer on a connection that asked to upgrade and will not be. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Refused'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** Joins a browser's WebSocket to the shell: output as binary frames, input and resizes as checked JSON. */
function join(ws: WebSocket, shell: ContainerShell, log: (line: string) => void): void {
  shell.stream.on('data', (d: Buffer) => {
    if (ws.bufferedAmount > HIGH_WATER) shell.stream.pause();
    ws.send(d, { binary: true }, () => {
      if (ws.bufferedAmount <= HIGH_WATER) shell.stream.resume();
    });
  });
  shell.stream.resume(); // paused since its first line was read
  shell.stream.on('close', () => ws.close(1000, 'the shell ended'));
  shell.stream.on('error', (e: Error) => log(`terminal: ${e.message}`));
  ws.on('message', (data: RawData, binary: boolean) => {
    const message = binary ? undefined : terminalMessageSchema.safeParse(jsonOrUndefined(textOf(data))); // not JSON: refused by the schema;
    if (!message?.success) return ws.close(1008, 'not a terminal message: send {"type":"input","data":…} or {"type":"resize","cols":…,"rows":…}');
    if (message.data.type === 'input') shell.stream.write(message.data.data);
    else shell.resize(message.data).catch((e: Error) => log(`terminal: ${e.message}`));
  });
  ws.on('close', () => void shell.close().catch((e: Error) => log(`terminal: hanging up the shell: ${e.message}`)));
}

/** A text frame's text (ws hands it over as one buffer, fragments, or an ArrayBuffer). */
function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}

/** A path part decoded; as it came when it is not valid percent-encoding (the id check then refuses it). */
function decoded(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * The terminal's upgrade, once guard.ts has let it through: the container's id checked, the
 * shell opened (the engine's refusal, such as a stopped container, answered as HTTP before
 * any WebSocket exists), then the WebSocket joined to it.
 */
export async function upgradeTerminal(daemon: HttpTarget, req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, log: (line: string) => void): Promise<void> {
  const raw = TERMINAL_PATH.exec(url.pathname)?.[1] ?? '';
  const id = decoded(raw);
  if (!CONTAINER.test(id)) return refuseUpgrade(socket, 400, `not a valid container id: ${JSON.stringify(id)}`);
  // Checked before the shell opens: a handshake the WebSocket server refuses would leave it running.
  const handshake = req.headers.upgrade?.toLowerCase() === 'websocket' && req.headers['sec-websocket-version'] === '13' && /^[+/0-9A-Za-z]{22}==$/.test(req.headers['sec-websocket-key'] ?? '');
  if (!handshake) return refuseUpgrade(socket, 400, 'the terminal is a WebSocket: ask for Upgrade: websocket, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key');
  const shell = await openShell(daemon, id, sizeFrom(url)).catch((e: Error) => e);
  if (shell instanceof Error) return refuseUpgrade(socket, shell instanceof HttpError && shell.status ? shell.status : 503, shell.message);
  sockets.handleUpgrade(req, socket, head, (ws) => join(ws, shell, log));
}
