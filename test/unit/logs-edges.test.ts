import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTail } from '../../installer/file-tail.js';
import { LogRing } from '../../bootstrap-distro/logd/ring.js';
import { LogWriter, RotatingFiles } from '../../bootstrap-distro/logd/writer.js';
import { redact } from '../../installer/diagnose.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-logs-edges-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const readOrEmpty = (f: string) => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
};
const waitUntil = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`never happened: ${what}`);
};

describe('the log ring', () => {
  it('keeps the newest lines in order and counts what it dropped', () => {
    const ring = new LogRing(3, 100);
    for (const n of [1, 2, 3, 4, 5]) ring.push('svc', `line ${n}`);
    expect(ring.dump().map((e) => e.msg)).toEqual(['line 3', 'line 4', 'line 5']);
    expect(ring.dropped).toBe(2);
  });

  it('cuts an over-long line at a character boundary, never into a broken character', () => {
    const ring = new LogRing(10, 8);
    const e = ring.push('svc', 'abcdefgé€x'); // é and € are multi-byte: byte 8 falls inside é
    expect(e.msg).toBe('abcdefg');
    expect(Buffer.byteLength(ring.push('svc', '€€€€').msg)).toBeLessThanOrEqual(8);
    expect(ring.push('svc', '€€€€').msg).toBe('€€');
  });
});

describe('rotating files', () => {
  it('rotates at the size limit and keeps only maxFiles old files', () => {
    const files = new RotatingFiles(dir, { maxBytes: 20, maxFiles: 2 });
    for (let i = 0; i < 10; i++) files.append('dockerd', [`line number ${i}`]); // 15 bytes each: one per file
    expect(readdirSync(dir).sort()).toEqual(['dockerd.log', 'dockerd.log.0', 'dockerd.log.1']);
    expect(readFileSync(join(dir, 'dockerd.log'), 'utf8')).toBe('line number 9\n');
    expect(readFileSync(join(dir, 'dockerd.log.1'), 'utf8')).toBe('line number 7\n');
  });

  it('names a file safely whatever the source is called', () => {
    new RotatingFiles(dir, { maxBytes: 1000, maxFiles: 1 }).append('../../etc/passwd', ['x']);
    expect(readdirSync(dir)).toEqual(['.._.._etc_passwd.log']);
  });
});

describe('the log writer', () => {
  let server: Server;
  const clients: Socket[] = [];
  afterEach(() => {
    for (const c of clients) c.destroy();
    server?.close();
  });

  it('reconnects after the daemon drops it, and reports a failing disk in `problem` until writes work again', async () => {
    const sock = join(dir, 'query.sock');
    server = createServer((c) => {
      clients.push(c);
      c.once('data', () => c.write(`${JSON.stringify({ time: '2026-01-01T00:00:00.000Z', source: 'dockerd', msg: `hello ${clients.length}` })}\n`));
    });
    await new Promise<void>((r) => server.listen(sock, r));
    const logDir = join(dir, 'log');
    const files = new RotatingFiles(logDir, { maxBytes: 1000, maxFiles: 1 });
    const reports: string[] = [];
    const writer = new LogWriter(sock, files, (l) => reports.push(l));
    try {
      await waitUntil(() => readOrEmpty(join(logDir, 'dockerd.log')).includes('hello 1'), 'the first line written');
      clients[0]!.destroy();
      await waitUntil(() => clients.length === 2, 'a second connection');
      await waitUntil(() => readOrEmpty(join(logDir, 'dockerd.log')).includes('hello 2'), 'the line after reconnecting written');
      expect(reports.some((r) => r.includes('lost the log daemon'))).toBe(true);

      // The disk "fills": the log file becomes a directory, so appends fail.
      const blocked = join(logDir, 'dockerd.log');
      rmSync(blocked);
      mkdirSync(blocked);
      clients[1]!.destroy();
      await waitUntil(() => writer.problem?.includes('persisted logs are not being written') === true, 'the problem reported');
      rmSync(blocked, { recursive: true });
      clients[2]!.destroy();
      await waitUntil(() => clients.length >= 4 && writer.problem === undefined, 'writes working again');
      expect(readOrEmpty(blocked)).toContain('hello 4');
      expect(reports).toContain('persisted logs are being written again');
    } finally {
      writer.close();
    }
  });
});

describe('FileTail (berth logs -f)', () => {
  it('hands out whole lines once, even when a line and a character arrive in pieces and reads overlap', async () => {
    const file = join(dir, 'berth.log');
    writeFileSync(file, 'first\nsec');
    const tail = new FileTail(file);
    expect(await tail.read()).toEqual(['first']);
    const euro = Buffer.from('€');
    appendFileSync(file, Buffer.concat([Buffer.from('ond ü '), euro.subarray(0, 1)]));
    expect(await tail.read()).toEqual([]);
    appendFileSync(file, Buffer.concat([euro.subarray(1), Buffer.from('\nthird\n')]));
    const [a, b] = await Promise.all([tail.read(), tail.read()]);
    expect([...a, ...b]).toEqual(['second ü €', 'third']);
  });

  it('starts over when the file was rotated (it shrank)', async () => {
    const file = join(dir, 'berth.log');
    writeFileSync(file, 'old line one\nold line two\n');
    const tail = new FileTail(file);
    await tail.read();
    writeFileSync(file, 'new\n');
    expect(await tail.read()).toEqual(['new']);
  });
});

describe('redact (berth diagnose)', () => {
  it('hides secret-looking values and registry auths, and leaves the rest', () => {
    const text = 'GITHUB_TOKEN=abc123 PATH=/usr/bin db_password=hunter2\n{"auth": "dXNlcjpwYXNz", "identitytoken": "t", "username": "me", "ApiSecret": "s"}';
    const out = redact(text);
    expect(out).not.toMatch(/abc123|hunter2|dXNlcjpwYXNz|"t"|"s"/);
    expect(out).toContain('PATH=/usr/bin');
    expect(out).toContain('"username": "me"');
    expect(out).toContain('GITHUB_TOKEN=<redacted>');
  });
});
