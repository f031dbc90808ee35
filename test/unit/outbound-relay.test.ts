import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLinkRules, linkRulesRestore } from '../../installer/network/link-rules.js';
import { OUTBOUND_RELAY_PORT, startOutboundRelay } from '../../installer/network/outbound-relay.js';
import type { RunningHelper } from '../../common/process.js';
import { freePort } from '../helpers/host-services.js';
import { startEchoServer } from '../helpers/echo-server.js';
import { REPO, requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('the outbound relay (a network namespace of its own)');

const GATEWAY = '192.168.65.2';
const DEVICE = 'blink0';

/**
 * Where the engine's TCP leaves: a namespace standing for the engine's (a veth pair inside it
 * gives it an address and a route, no way out), Berth's real rules in it, and `berth-relay
 * outbound` on this side. Connections made inside the namespace to the gateway must arrive at
 * this side's loopback. Run with the static build and with ASan/UBSan.
 */
const builds = [
  { name: 'static build', binary: join(REPO, 'dist/native/berth-relay') },
  { name: 'ASan/UBSan build', binary: join(REPO, 'dist/native-sanitized/berth-relay') },
];

/**
 * A client inside the namespace: `count` connections at once to host:port, each sending
 * `bytes` random bytes then half-closing; prints one line per connection, "ok SHA" when the
 * echo matched, else the error's code.
 */
const CLIENT = `
const net = require('node:net'), crypto = require('node:crypto');
const [host, port, count, bytes] = process.argv.slice(1);
const one = () => new Promise((resolve) => {
  const data = crypto.randomBytes(Number(bytes)), got = [];
  const c = net.connect(Number(port), host);
  c.on('data', (d) => got.push(d));
  c.on('error', (e) => resolve(e.code));
  c.on('close', () => resolve(Buffer.concat(got).equals(data) ? 'ok' : 'mismatch ' + Buffer.concat(got).length));
  c.end(data);
});
Promise.all(Array.from({ length: Number(count) }, one)).then((r) => console.log(r.join('\\n')));
`;

describe.runIf(run).each(builds)('berth-relay outbound ($name)', ({ binary }) => {
  const name = `berth-test-out-${process.pid}-${binary.includes('sanitized') ? 's' : 'p'}`;
  const netns = `/run/netns/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'berth-outbound-'));
  const logFile = join(dir, 'link.log');
  let relay: RunningHelper;
  let echo: Server;
  let echoPort = 0;
  let echoSockets = new Set<Socket>();
  const inside = (host: string, port: number, count: number, bytes: number) => execa('nsenter', [`--net=${netns}`, process.execPath, '-e', CLIENT, host, String(port), String(count), String(bytes)], { reject: false });

  beforeAll(async () => {
    if (binary.includes('sanitized')) await execa('node', [join(REPO, 'scripts/build-native.mjs')], { env: { BERTH_NATIVE_SANITIZE: '1' } });
    ({ server: echo, port: echoPort, sockets: echoSockets } = await startEchoServer());
    const ip = (...args: string[]) => execa('ip', args);
    await ip('netns', 'add', name);
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    await ip('-n', name, 'link', 'add', DEVICE, 'type', 'veth', 'peer', 'name', `${DEVICE}p`);
    await ip('-n', name, 'addr', 'add', '192.168.65.100/24', 'dev', DEVICE);
    await ip('-n', name, 'link', 'set', DEVICE, 'up');
    await ip('-n', name, 'link', 'set', `${DEVICE}p`, 'up');
    relay = await startOutboundRelay({ binary, netns, gateway: GATEWAY, pidFile: join(dir, 'relay.pid'), logFile });
    await applyLinkRules(netns, { gateway: GATEWAY, device: DEVICE, redirects: [], outboundPort: OUTBOUND_RELAY_PORT }, join(dir, 'xtables.lock'));
  }, 120_000);

  afterAll(async () => {
    relay?.child.kill('SIGTERM');
    await relay?.exited;
    echo?.close();
    await execa('ip', ['netns', 'delete', name], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries a connection to the gateway to the host loopback, 4 MiB each way intact, half-close included', async () => {
    const r = await inside(GATEWAY, echoPort, 1, 4 * 2 ** 20);
    expect(r.stdout.trim(), r.stderr).toBe('ok');
  });

  it('resets a connection whose destination refuses, and one made to the relay itself', async () => {
    const closed = await freePort();
    const refused = await inside(GATEWAY, closed, 1, 10);
    expect(refused.stdout.trim(), refused.stderr).toBe('ECONNRESET');
    const direct = await inside('127.0.0.1', OUTBOUND_RELAY_PORT, 1, 10);
    expect(direct.stdout.trim(), direct.stderr).toBe('ECONNRESET');
  });

  it("leaves a connection to one of the namespace's own addresses alone, whatever its range (dockerd's DNAT, not the relay)", async () => {
    // A documentation address (TEST-NET-3) on the namespace's loopback, as a bridge given a public range would have.
    const own = '203.0.113.7';
    await execa('ip', ['-n', name, 'addr', 'add', `${own}/32`, 'dev', 'lo']);
    const port = 18099;
    const server = execa('nsenter', [`--net=${netns}`, process.execPath, '-e', `require('node:net').createServer((c) => c.pipe(c)).listen(${port}, '${own}', () => console.log('up'))`]);
    try {
      await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
      const r = await inside(own, port, 1, 4096);
      expect(r.stdout.trim(), r.stderr).toBe('ok');
    } finally {
      server.kill('SIGTERM');
      await server.catch(() => undefined);
      await execa('ip', ['-n', name, 'addr', 'del', `${own}/32`, 'dev', 'lo']);
    }
  });

  it('applied again (as a restarted backend does), replaces its rules rather than adding to them', async () => {
    const rules = { gateway: GATEWAY, device: DEVICE, outboundPort: OUTBOUND_RELAY_PORT };
    await applyLinkRules(netns, { ...rules, redirects: [{ proto: 'udp', port: 53, to: 41001 }] }, join(dir, 'xtables.lock'));
    await applyLinkRules(netns, { ...rules, redirects: [{ proto: 'tcp', port: 3128, to: 41002 }] }, join(dir, 'xtables.lock'));
    // Listed with the backend the rules went to, probed as applyLinkRules does.
    const probe = 'iptables-legacy -w -t filter -n -L >/dev/null 2>&1 && exec iptables-legacy-save -t nat || exec iptables-nft-save -t nat';
    const saved = (await execa('nsenter', [`--net=${netns}`, 'sh', '-c', probe])).stdout.split('\n');
    expect(saved.filter((l) => l.startsWith('-A BERTH-HOST'))).toEqual([`-A BERTH-HOST -p tcp -m tcp --dport 3128 -j DNAT --to-destination ${GATEWAY}:41002`]);
    expect(saved.filter((l) => l.startsWith('-A BERTH-OUT') && l.includes('REDIRECT'))).toHaveLength(2);
    expect(saved.filter((l) => / -j BERTH-(HOST|OUT)$/.test(l)).map((l) => l.split(' ')[1])).toEqual(['PREROUTING', 'PREROUTING', 'OUTPUT', 'OUTPUT']);
    const r = await inside(GATEWAY, echoPort, 1, 4096);
    expect(r.stdout.trim(), r.stderr).toBe('ok');
  });

  it('carries 1,000 concurrent connections and leaves no descriptor open after them', async () => {
    const fds = () => readdirSync(`/proc/${relay.child.pid}/fd`).length;
    const idle = fds();
    const r = await inside(GATEWAY, echoPort, 1000, 1000);
    const outcomes = r.stdout.trim().split('\n');
    expect(
      outcomes.filter((o) => o !== 'ok'),
      r.stderr,
    ).toEqual([]);
    expect(outcomes).toHaveLength(1000);
    const settle = Date.now() + 10_000;
    while ((fds() !== idle || echoSockets.size > 0) && Date.now() < settle) await new Promise((res) => setTimeout(res, 20));
    expect({ fds: fds(), echo: echoSockets.size }).toEqual({ fds: idle, echo: 0 });
  }, 60_000);

  it('has logged no sanitizer report and still runs', () => {
    expect(relay.child.exitCode).toBeNull();
    expect(readFileSync(logFile, 'utf8')).not.toMatch(/AddressSanitizer|LeakSanitizer|runtime error/);
  });
});

describe("the engine link's rules, as iptables-restore receives them", () => {
  it('writes each rule on a line of its own, and refuses any value that could be read as more than one word', () => {
    const rules = linkRulesRestore({
      gateway: GATEWAY,
      device: 'eth0',
      redirects: [
        { proto: 'tcp', port: 3128, to: 41000 },
        { proto: 'udp', port: 53, to: 41001 },
      ],
      outboundPort: 60999,
    }).split('\n');
    expect(rules.slice(0, 3)).toEqual(['*nat', ':BERTH-HOST - [0:0]', ':BERTH-OUT - [0:0]']);
    expect(rules).toContain(`-A BERTH-HOST -p tcp --dport 3128 -j DNAT --to-destination ${GATEWAY}:41000`);
    expect(rules).toContain(`-A BERTH-HOST -p udp --dport 53 -j DNAT --to-destination ${GATEWAY}:41001`);
    expect(rules.filter((r) => r.includes('--dport 53 -j RETURN'))).toEqual([]); // UDP never reaches the TCP relay's chain
    expect(rules.slice(-6)).toEqual([
      '-A BERTH-OUT -m addrtype --dst-type LOCAL -j RETURN',
      `-A BERTH-OUT -d ${GATEWAY} -p tcp -j REDIRECT --to-ports 60999`,
      expect.stringMatching(/^-A BERTH-OUT -d 0\.0\.0\.0\/8,10\.0\.0\.0\/8,.* -j RETURN$/),
      '-A BERTH-OUT -p tcp -j REDIRECT --to-ports 60999',
      'COMMIT',
      '',
    ]);
    expect(linkRulesRestore({ gateway: GATEWAY, device: 'eth0', redirects: [] })).not.toMatch(/REDIRECT/);
    expect(() => linkRulesRestore({ gateway: '1.2.3.4\n-F PREROUTING', device: 'eth0', redirects: [] })).toThrow(/bad gateway/);
    expect(() => linkRulesRestore({ gateway: GATEWAY, device: 'eth0 -j ACCEPT', redirects: [] })).toThrow(/bad device/);
    expect(() => linkRulesRestore({ gateway: GATEWAY, device: 'eth0', redirects: [], outboundPort: 0 })).toThrow(/bad outbound port/);
    expect(() => linkRulesRestore({ gateway: GATEWAY, device: 'eth0', redirects: [{ proto: 'tcp', port: 70000, to: 1 }] })).toThrow(/bad redirect/);
  });
});
