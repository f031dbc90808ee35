import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRelayLine, RelayListeners, relayCommand, serveNativeForwarder } from '../../common/port-forward/native-relay.js';
import type { PublishedListener } from '../../common/port-forward/forward-udp.js';
import { TargetSlot } from '../../common/port-forward/target-slot.js';
import { REPO } from '../helpers/wsl-root.js';
import { freePort } from '../helpers/host-services.js';
import { startEchoServer } from '../helpers/echo-server.js';

// berth-relay's two halves on one machine: a listener (as on the host or in the WSL
// namespace) → the forwarder socket → berth-relay forward → a target on loopback. Run once
// with the static build the product ships and once built with ASan/UBSan, whose reports
// would show in the relays' logs and exit codes.
// Each build both ways the listener reaches the forwarder: relaying the bytes (the host's
// side, across the host-VM boundary) and handing each connection over whole (--pass-to:
// the WSL side, on the engine's own kernel).
const builds = [
  { name: 'static build', binary: join(REPO, 'dist/native/berth-relay') },
  { name: 'ASan/UBSan build', binary: join(REPO, 'dist/native-sanitized/berth-relay'), sanitized: true },
].flatMap((b) => [
  { ...b, handOver: false, how: 'relaying bytes' },
  { ...b, handOver: true, how: 'handing connections over' },
]);

beforeAll(async () => {
  await execa('node', [join(REPO, 'scripts/build-native.mjs')], { env: { BERTH_NATIVE_SANITIZE: '1' } });
}, 120_000);

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** Sends `data`, half-closes, and resolves with everything read until the relay closes. */
function exchange(port: number, data: Buffer | string, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = connect(port, host);
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve(Buffer.concat(chunks)));
    c.end(data);
  });
}

/** Each process's open descriptor count, once it has not changed for 10 polls in a row (or after 5 s). */
async function settledFds(pids: number[]): Promise<number[]> {
  let last = pids.map(openFds);
  for (let same = 0, polls = 0; same < 10 && polls < 250; polls++) {
    await new Promise((r) => setTimeout(r, 20));
    const now = pids.map(openFds);
    same = now.every((n, i) => n === last[i]) ? same + 1 : 0;
    last = now;
  }
  return last;
}

async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end && !check();) await new Promise((r) => setTimeout(r, 20));
  return check();
}

describe.each(builds)('berth-relay ($name, $how)', ({ binary, sanitized, handOver }) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-relay-'));
  const forwarderPath = join(dir, 'forward.sock');
  const logs: string[] = [];
  const log = (l: string) => logs.push(l);
  let echo: Server;
  let echoPort = 0;
  let echoSockets = new Set<Socket>();
  let relay: RelayListeners;
  let forwarder: Awaited<ReturnType<typeof serveNativeForwarder>>;
  const listeners: PublishedListener[] = [];
  const checked: string[] = [];

  beforeAll(async () => {
    ({ server: echo, port: echoPort, sockets: echoSockets } = await startEchoServer());
    // Only the echo server counts as published (a real engine asks the daemon).
    forwarder = await serveNativeForwarder(
      binary,
      forwarderPath,
      async (proto, ip, port) => {
        checked.push(`${proto} ${ip} ${port}`);
        return ip === '127.0.0.1' && port === echoPort;
      },
      log,
    );
    relay = RelayListeners.spawn(binary, forwarderPath, log, handOver);
  });

  afterAll(async () => {
    for (const l of listeners) l.close();
    await relay?.stop();
    await forwarder?.close();
    echo?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const publish = async (slot: TargetSlot) => {
    const port = await freePort();
    listeners.push(await relay.listen({ host: '127.0.0.1', port }, slot));
    return port;
  };

  it('makes its socket root-only and carries TCP both ways, half-close included', async () => {
    const { stdout } = await execa('stat', ['-c', '%a', forwarderPath]);
    expect(stdout).toBe('600');
    const port = await publish(new TargetSlot({ ip: '127.0.0.1', port: echoPort }));
    expect((await exchange(port, 'ping over tcp')).toString()).toBe('ping over tcp');
    expect(checked).toContain(`tcp 127.0.0.1 ${echoPort}`);
    // A burst to one published port is one question to Node (its answer holds for a second);
    // a refused target is asked about every time.
    const asked = () => checked.filter((c) => c === `tcp 127.0.0.1 ${echoPort}`).length;
    const before = asked();
    await Promise.all(Array.from({ length: 20 }, (_, i) => exchange(port, `burst ${i}`)));
    expect(asked() - before).toBeLessThanOrEqual(1);
  });

  it('carries 64 MiB each way intact', async () => {
    const port = await publish(new TargetSlot({ ip: '127.0.0.1', port: echoPort }));
    const blob = randomBytes(64 * 2 ** 20);
    const back = await exchange(port, blob);
    expect(back.length).toBe(blob.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(blob).digest('hex'));
  }, 60_000);

  it('holds a connection made before the target is known and carries it once it is; closes one whose port goes first', async () => {
    const slot = new TargetSlot();
    const port = await publish(slot);
    const early = exchange(port, 'sent before the target was set');
    await new Promise((r) => setTimeout(r, 200));
    slot.set({ ip: '127.0.0.1', port: echoPort });
    expect((await early).toString()).toBe('sent before the target was set');

    const never = new TargetSlot();
    const port2 = await publish(never);
    // (Closed with its bytes unread, the kernel answers with a reset: either way, nothing came.)
    const waiting = exchange(port2, 'nobody will answer').catch((e: NodeJS.ErrnoException) => e.code);
    await new Promise((r) => setTimeout(r, 200));
    listeners.pop()!.close();
    expect(await waiting).toSatisfy((r) => r === 'ECONNRESET' || (Buffer.isBuffer(r) && r.length === 0));
  });

  it('refuses a taken port with its errno name', async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as { port: number }).port;
    try {
      const code = await relay.listen({ host: '127.0.0.1', port }, new TargetSlot()).then(
        () => 'bound',
        (e: NodeJS.ErrnoException) => e.code,
      );
      expect(code).toBe('EADDRINUSE');
    } finally {
      squatter.close();
    }
  });

  it('forwards nothing to an unpublished target, drops malformed heads, and keeps serving', async () => {
    const through = (bytes: string) =>
      new Promise<string>((resolve) => {
        const s = connect(forwarderPath);
        let text = '';
        s.on('data', (d: Buffer) => (text += d.toString()));
        s.on('close', () => resolve(text));
        s.on('error', () => resolve(text));
        s.end(bytes);
      });
    expect(await through('tcp 10.0.0.1 22\nping')).toBe('');
    expect(logs.some((l) => l.includes('refused to forward to tcp 10.0.0.1:22: no running container publishes it'))).toBe(true);
    for (const bad of [
      'udp 127.0.0.1 53\n',
      'tcp 127.0.0.1 0\n',
      'tcp 127.0.0.1 65536\n',
      'tcp  127.0.0.1 80\n',
      'tcp 127.0.0.1 80 extra\n',
      'tcp ::g 80\n',
      `tcp ${'1'.repeat(300)}\n`,
      '\n',
      'tcp 127.0.0.1 080\n',
      '\0\0\0',
    ]) {
      expect(await through(bad), JSON.stringify(bad)).toBe('');
    }
    for (let i = 0; i < 50; i++) await through(randomBytes(1 + ((i * 37) % 700)).toString('latin1'));
    expect(await through(`tcp 127.0.0.1 ${echoPort}\nstill here`)).toBe('still here');
  });

  it('carries 1,000 concurrent connections and leaves no descriptor open after them, nor after clients that vanish mid-transfer', async () => {
    const port = await publish(new TargetSlot({ ip: '127.0.0.1', port: echoPort }));
    // The baseline once the earlier cases' connections have finished closing.
    const [relayFds, forwarderFds] = await settledFds([relay.pid!, forwarder.pid!]);
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => exchange(port, `connection ${i}`)));
    expect(answers.map((a) => a.toString())).toEqual(Array.from({ length: 1000 }, (_, i) => `connection ${i}`));
    // Clients that leave with data in flight both ways.
    await Promise.all(
      Array.from(
        { length: 50 },
        () =>
          new Promise<void>((resolve) => {
            const c = connect(port, '127.0.0.1');
            c.on('error', () => undefined);
            c.on('connect', () => {
              c.write(randomBytes(2 * 2 ** 20));
              setTimeout(() => (c.destroy(), resolve()), 20);
            });
          }),
      ),
    );
    expect(
      await until(() => openFds(relay.pid!) === relayFds && openFds(forwarder.pid!) === forwarderFds && echoSockets.size === 0, 10_000),
      `relay ${openFds(relay.pid!)} (was ${relayFds}), forwarder ${openFds(forwarder.pid!)} (was ${forwarderFds}), echo ${echoSockets.size}`,
    ).toBe(true);
  }, 60_000);

  it('ends cleanly when its stdin closes, with no sanitizer report', async () => {
    await relay.stop();
    await forwarder.close();
    const reports = logs.filter((l) => /AddressSanitizer|LeakSanitizer|runtime error|exited \(/.test(l));
    expect(reports).toEqual([]);
    if (sanitized) expect(binary).toContain('native-sanitized');
  });
});

describe("berth-relay's lines, as Node writes and reads them", () => {
  it('writes only commands whose words cannot split or join', () => {
    expect(relayCommand('listen', '127.0.0.1:8080', { ip: '127.0.0.1', port: 8080 })).toBe('listen 127.0.0.1:8080 127.0.0.1 8080\n');
    expect(relayCommand('target', '::1:8080', { ip: 'fd00::2', port: 80 })).toBe('target ::1:8080 fd00::2 80\n');
    expect(relayCommand('close', '::1:8080')).toBe('close ::1:8080\n');
    expect(() => relayCommand('close', 'a b')).toThrow(/not a port key/);
    expect(() => relayCommand('listen', 'k', { ip: '1.2.3.4\nclose x', port: 1 })).toThrow(/not an address/);
    expect(() => relayCommand('listen', 'k', { ip: '1.2.3.4', port: 70000 })).toThrow(/not an address/);
  });

  it('reads answers, questions and readiness, and nothing else', () => {
    expect(parseRelayLine('ok 127.0.0.1:80')).toEqual({ ok: true, key: '127.0.0.1:80' });
    expect(parseRelayLine('error ::1:80 EADDRINUSE')).toEqual({ ok: false, key: '::1:80', code: 'EADDRINUSE' });
    expect(parseRelayLine('check 7 172.17.0.2 80')).toEqual({ check: { id: 7, ip: '172.17.0.2', port: 80 } });
    expect(parseRelayLine('ready /mnt/wsl/berth/forward.sock')).toEqual({ ready: '/mnt/wsl/berth/forward.sock' });
    for (const bad of ['', 'ok', 'error k eaddrinuse', 'check x 1.2.3.4 80', 'check 1 1.2.3.4 80 more', 'OK k']) expect(parseRelayLine(bad), bad).toBeUndefined();
  });
});

describe('berth-relay that cannot run', () => {
  it('fails every listen at once with a code, and says why in the log', async () => {
    const logs: string[] = [];
    const relay = RelayListeners.spawn('/nonexistent/berth-relay', '/nonexistent/forward.sock', (l) => logs.push(l));
    const code = await relay.listen({ host: '127.0.0.1', port: 1 }, new TargetSlot()).then(
      () => 'bound',
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(code).toBe('ERELAYEXITED');
    expect(logs.join('\n')).toMatch(/berth-relay could not run: spawn \/nonexistent\/berth-relay ENOENT/);
    await relay.stop();
  });
});
