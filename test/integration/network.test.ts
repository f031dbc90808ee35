import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createConnection, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_LINK } from '../../installer/network/addresses.js';
import { WSL_NAT } from '../../wsl-host/linux/vm-nat.js';
import { TestBerth, until } from '../helpers/berth-manager.js';
import { debianRootfsTarball } from '../helpers/debian-distro.js';
import { makeRootfsTarball } from '../helpers/busybox-distro.js';
import { hostNetworkSnapshot } from '../helpers/host-network.js';
import { PrivateMounts } from '../helpers/private-mounts.js';
import { freePort, makeTestCa, startRegistry, startTinyproxy, type Service } from '../helpers/host-services.js';
import { requireRoot } from '../helpers/wsl-root.js';
import { LEGACY_PROBE_ARGS } from '../../common/engine-iptables.js';

const run = requireRoot('networking: WSL NAT, the engine link, Berth DNS');

/** The package mirror, by name: the only place outside this machine the tests reach. */
const MIRROR_FILE = 'http://deb.debian.org/debian/dists/bookworm/Release';
/** Known only to the backend's own hosts file (a private mount namespace): never to this machine's. */
const HOSTS_ONLY_NAME = 'berth-hosts-only.test';
const HOSTS_ONLY_ADDRESS = '198.51.100.77';
/** A registry on the host's loopback, under a name only the backend's hosts file knows. */
const REGISTRY_NAME = 'registry.berth.test';

interface NetworkStatus {
  state: string;
  pid?: number;
  tcpRelayPid?: number;
  dns?: string;
  restarts: number;
  error?: string;
}

/**
 * Networking as a user meets it: apt-get in a user distro (WSL's NAT), `docker build` that
 * installs packages (the engine link and Berth DNS), the host's own services as
 * host.docker.internal, hosts-file names, NXDOMAIN, a link that comes back when killed,
 * and the host's own network setup left exactly as it was.
 */
describe.runIf(run)('networking', () => {
  let t: TestBerth;
  let mounts: PrivateMounts | undefined;
  let before: Record<string, string>;
  let hostHttp: Server;
  let hostUdp: Socket;
  let registry: Service;
  let ca: { caCert: string; cert: string; key: string };
  const registries: Service[] = [];
  const proxies: Service[] = [];
  const ownServers: Array<{ close(): void }> = [];
  let httpPort = 0;
  let udpPort = 0;
  const sh = (script: string, user = 'me') => t.sh('Debian', script, user);
  const ok = async (script: string, user = 'me') => {
    const r = await sh(script, user);
    expect(r.exitCode, `${script}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const network = async () => ((await t.status()) as unknown as { network: NetworkStatus }).network;
  /** A fresh `berth diagnose` bundle, unpacked: the names of its files that contain `text`. */
  const diagnosticsFilesWith = async (text: string) => {
    const diagnose = await t.berth(['diagnose']);
    expect(diagnose.exitCode, diagnose.stderr).toBe(0);
    const unpacked = mkdtempSync(join(t.root, 'diag-'));
    await execa('tar', ['-xzf', diagnose.stdout.trim().split('\n').pop()!, '-C', unpacked]);
    return (await execa('grep', ['-r', '-l', text, unpacked], { reject: false })).stdout;
  };

  beforeAll(async () => {
    before = await hostNetworkSnapshot();
    // The host's own services, on its loopback only: what host.docker.internal must reach.
    hostHttp = createServer((_req, res) => res.end('hello from the host'));
    await new Promise<void>((r) => hostHttp.listen(0, '127.0.0.1', r));
    httpPort = (hostHttp.address() as AddressInfo).port;
    hostUdp = createSocket('udp4').on('message', (msg, from) => hostUdp.send(Buffer.concat([Buffer.from('echo:'), msg]), from.port, from.address));
    await new Promise<void>((r) => hostUdp.bind(0, '127.0.0.1', r));
    udpPort = hostUdp.address().port;

    // PAC files are fetched again every second here (60 s by default).
    t = new TestBerth({ BERTH_PAC_REFRESH_SECONDS: '1' });
    // This world (WSL host, backend) runs in a mount namespace of its own, where the host's
    // hosts file knows one more name; this machine's /etc/hosts is never touched.
    const hosts = join(t.root, 'hosts');
    writeFileSync(hosts, `${readFileSync('/etc/hosts', 'utf8')}\n${HOSTS_ONLY_ADDRESS} ${HOSTS_ONLY_NAME}\n127.0.0.1 ${REGISTRY_NAME}\n`);
    mounts = await PrivateMounts.create({ [hosts]: '/etc/hosts' });
    t.prefix = mounts.prefix;
    expect(await mounts.readFile('/etc/hosts')).toContain(HOSTS_ONLY_NAME);
    const tarball = await debianRootfsTarball();
    expect((await t.wsl(['--import', 'Debian', join(t.root, 'distros/Debian'), tarball])).exitCode).toBe(0);
    // A private registry over TLS, its certificate from a test CA the engine does not trust yet.
    const tls = await makeTestCa(join(t.root, 'ca'), REGISTRY_NAME);
    ca = tls;
    registry = await startRegistry(join(t.root, 'registry'), tls);
    await t.enableWithImages();
    const imported = await t.docker(['import', tarball, 'debian-local:bookworm']);
    expect(imported.exitCode, imported.stderr).toBe(0);
    const integrated = await t.berth(['integrate', 'Debian']);
    expect(integrated.exitCode, integrated.stderr).toBe(0);
  }, 600_000);

  afterAll(async () => {
    hostHttp?.close();
    hostUdp?.close();
    for (const s of ownServers) s.close();
    for (const p of proxies) await p.stop();
    await registry?.stop();
    for (const r of registries) await r.stop();
    await t?.cleanup();
    await mounts?.close();
  });

  it('gives a WSL 2 distro NAT egress and a generated resolv.conf: apt-get update works', async () => {
    expect(await ok('cat /etc/resolv.conf')).toContain(`nameserver ${WSL_NAT.nameserver}`);
    // The default route (minbase has no iproute2): gateway in /proc/net/route, little-endian hex.
    const gatewayHex = Buffer.from(WSL_NAT.gateway.split('.').map(Number).reverse()).toString('hex').toUpperCase();
    expect(await ok('cat /proc/net/route')).toMatch(new RegExp(`^eth0\\s+00000000\\s+${gatewayHex}\\s`, 'm'));
    // IPv4 only, as WSL 2's NAT: no IPv6 default route on eth0.
    expect(await ok('cat /proc/net/ipv6_route')).not.toMatch(/^0{32} 00 .* eth0$/m);
    const update = await sh('apt-get update 2>&1', 'root');
    expect(update.exitCode, update.stdout).toBe(0);
    expect(update.stdout).not.toMatch(/^(W|E): /m);
  }, 120_000);

  it('leaves resolv.conf alone when wsl.conf says generateResolvConf = false', async () => {
    await ok('printf "[network]\\ngenerateResolvConf = false\\n" >> /etc/wsl.conf && printf "nameserver 192.0.2.53\\n" > /etc/resolv.conf.mine', 'root');
    try {
      expect((await t.wsl(['--terminate', 'Debian'])).exitCode).toBe(0);
      await ok('cp /etc/resolv.conf.mine /etc/resolv.conf', 'root');
      expect((await t.wsl(['--terminate', 'Debian'])).exitCode).toBe(0);
      expect(await ok('cat /etc/resolv.conf')).toBe('nameserver 192.0.2.53');
    } finally {
      await sh("sed -i '/^\\[network\\]/d; /generateResolvConf/d' /etc/wsl.conf; rm -f /etc/resolv.conf.mine", 'root');
      await t.wsl(['--terminate', 'Debian']);
    }
    expect(await ok('cat /etc/resolv.conf')).toContain(`nameserver ${WSL_NAT.nameserver}`);
    // The integration comes back with the distro.
    expect((await t.berth(['integrate', 'Debian'])).exitCode).toBe(0);
  }, 120_000);

  it('builds, from the distro as its user, an image whose Dockerfile installs packages; the image then reaches the mirror', async () => {
    await ok(`mkdir -p ~/withcurl && printf 'FROM debian-local:bookworm\\nRUN apt-get update && apt-get install -y --no-install-recommends curl\\n' > ~/withcurl/Dockerfile`);
    const build = await sh('cd ~/withcurl && docker build -t withcurl . 2>&1');
    expect(build.exitCode, build.stdout.slice(-3000)).toBe(0);
    expect(await ok(`docker run --rm withcurl curl -sS -o /dev/null -w '%{http_code}' ${MIRROR_FILE}`)).toBe('200');
  }, 300_000);

  it("reaches the host's loopback as host.docker.internal (TCP and UDP) and via --add-host x:host-gateway", async () => {
    expect(await ok(`docker run --rm withcurl curl -sS http://host.docker.internal:${httpPort}/`)).toBe('hello from the host');
    expect(await ok(`docker run --rm --add-host hostside:host-gateway withcurl curl -sS http://hostside:${httpPort}/`)).toBe('hello from the host');
    const udp = await ok(`docker run --rm debian-local:bookworm bash -c 'exec 3<>/dev/udp/host.docker.internal/${udpPort}; echo ping >&3; timeout 5 head -c 10 <&3'`);
    expect(udp).toBe('echo:ping');
    const names = await ok('docker run --rm debian-local:bookworm getent hosts gateway.docker.internal host.docker.internal');
    expect(names.split('\n').map((l) => l.split(/\s+/))).toEqual([
      [ENGINE_LINK.gateway, 'gateway.docker.internal'],
      [ENGINE_LINK.gateway, 'host.docker.internal'],
    ]);
  }, 120_000);

  it("carries the engine's TCP through berth-relay: to the host's loopback and to the mirror, a closed port refused at once, no descriptor left after 200 connections", async () => {
    const relayPid = (await network()).tcpRelayPid!;
    expect(relayPid, 'status names the outbound relay').toBeGreaterThan(0);
    // A host service that answers with the program holding the client's end of its connection.
    const who = createServer((req, res) => {
      const peer = ['sport', '=', `:${req.socket.remotePort}`, 'and', 'dport', '=', `:${(who.address() as AddressInfo).port}`];
      void execa('ss', ['-Htnp', 'state', 'established', ...peer], { reject: false }).then((r) => res.end(/users:\(\("([^"]+)"/.exec(r.stdout)?.[1] ?? `unknown: ${r.stdout}`));
    });
    ownServers.push(who);
    await new Promise<void>((r) => who.listen(0, '127.0.0.1', r));
    const whoPort = (who.address() as AddressInfo).port;
    expect(await ok(`docker run --rm withcurl curl -sS http://host.docker.internal:${whoPort}/`)).toBe('berth-relay');

    // A public address (the mirror) goes the same way: the REDIRECT for public destinations counts it.
    // Its --netns, as the relay sees it (this world has mounts of its own).
    const netns = `/proc/${relayPid}/root${readFileSync(`/proc/${relayPid}/cmdline`, 'utf8').split('\0')[3]}`;
    // The engine's backend: legacy where the kernel has it (common/engine-iptables.ts), probed in a namespace of the test's own.
    const kernelHasLegacy = (await execa('unshare', ['--net', 'iptables-legacy', ...LEGACY_PROBE_ARGS], { reject: false })).exitCode === 0;
    const redirected = async () => {
      const rules = (await execa('nsenter', [`--net=${netns}`, kernelHasLegacy ? 'iptables-legacy' : 'iptables-nft', '-w', '-t', 'nat', '-L', 'BERTH-OUT', '-n', '-v', '-x'])).stdout.split('\n');
      return Number(
        rules
          .filter((l) => l.includes('REDIRECT') && l.includes('0.0.0.0/0'))
          .pop()
          ?.trim()
          .split(/\s+/)[0],
      );
    };
    const before = await redirected();
    expect(await ok(`docker run --rm withcurl curl -sS -o /dev/null -w '%{http_code}' ${MIRROR_FILE}`)).toBe('200');
    expect(await redirected()).toBeGreaterThan(before);

    // One backend in the engine's namespace: dockerd's rules, the link's and the VM link's all there, and no rule in the other.
    const save = async (tool: string) => (await execa('nsenter', [`--net=${netns}`, tool])).stdout;
    const [used, other] = kernelHasLegacy ? ['iptables-legacy-save', 'iptables-nft-save'] : ['iptables-nft-save', 'iptables-legacy-save'];
    for (const chain of ['DOCKER', 'BERTH-OUT', 'BERTH-HOST', 'BERTH-PORTS']) expect(await save(used), used).toContain(`-A ${chain} `);
    expect(await save(other), other).not.toMatch(/^-A /m);

    // A closed port on the host: refused or reset, as slirp4netns would, never a hang.
    const closed = await freePort();
    const refused = await sh(`docker run --rm withcurl curl -sS -m 20 http://host.docker.internal:${closed}/`);
    expect([7, 56], refused.stderr).toContain(refused.exitCode);

    const fds = () => readdirSync(`/proc/${relayPid}/fd`).length;
    const idle = fds();
    const many = await sh(`docker run --rm withcurl sh -c 'seq 200 | xargs -P 50 -I{} curl -sS -o /dev/null -w "%{http_code}\\n" http://host.docker.internal:${httpPort}/ | sort | uniq -c'`);
    expect(many.stdout.trim(), many.stderr).toBe('200 200');
    expect(await until(async () => fds() === idle, 10_000), `berth-relay's descriptors: ${fds()} after, ${idle} before`).toBe(true);
  }, 180_000);

  it("resolves a name only the host's hosts file knows, on the default bridge and on a user network (whose container names still resolve)", async () => {
    expect((await ok(`docker run --rm debian-local:bookworm getent hosts ${HOSTS_ONLY_NAME}`)).split(/\s+/)).toEqual([HOSTS_ONLY_ADDRESS, HOSTS_ONLY_NAME]);
    await ok('docker network create berth-net-test >/dev/null && docker run -d --name peer --network berth-net-test busybox sleep 300 >/dev/null');
    try {
      const both = await ok(`docker run --rm --network berth-net-test debian-local:bookworm getent hosts ${HOSTS_ONLY_NAME} peer`);
      expect(both).toContain(HOSTS_ONLY_ADDRESS);
      expect(both).toMatch(/^172\.\d+\.\d+\.\d+\s+peer$/m);
    } finally {
      await sh('docker rm -f peer >/dev/null; docker network rm berth-net-test >/dev/null');
    }
  }, 120_000);

  it('answers NXDOMAIN (not a timeout or SERVFAIL) for a name that does not exist, over UDP and TCP', async () => {
    const dns = (await network()).dns!;
    const port = Number(dns.split(':')[1]);
    const query = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'no-such-name.invalid' }] });
    const udp = createSocket('udp4');
    const udpAnswer = await new Promise<Buffer>((resolve, reject) => {
      setTimeout(() => reject(new Error('no UDP answer')), 10_000).unref();
      udp.once('message', resolve).send(query, port, '127.0.0.1');
    }).finally(() => udp.close());
    expect(dnsPacket.decode(udpAnswer)).toMatchObject({ id: 4242, rcode: 'NXDOMAIN' });
    const tcpAnswer = await new Promise<Buffer>((resolve, reject) => {
      const c = createConnection(port, '127.0.0.1');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      let got = Buffer.alloc(0);
      c.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          c.destroy();
          resolve(got.subarray(2));
        }
      });
      c.on('error', reject);
      c.write(Buffer.concat([len, query]));
    });
    expect(dnsPacket.decode(tcpAnswer)).toMatchObject({ id: 4242, rcode: 'NXDOMAIN' });
    // And in a container, the lookup fails as "not found" (getent's exit 2).
    expect((await sh('docker run --rm debian-local:bookworm getent hosts no-such-name.invalid')).exitCode).toBe(2);
  }, 120_000);

  it("trusts the host's CAs: a pull from a registry with a private CA fails (x509) until the CA is in $BERTH_HOME/certs, then works; an unreadable CA file is skipped with a warning", async () => {
    const image = `${REGISTRY_NAME}:${registry.port}/berth/hello:1`;
    const untrusted = await t.docker(['pull', image]);
    expect(untrusted.exitCode).not.toBe(0);
    expect(untrusted.stderr).toMatch(/x509|certificate signed by unknown authority/);
    const certs = join(t.env.BERTH_HOME!, 'certs');
    mkdirSync(certs, { recursive: true });
    copyFileSync(ca.caCert, join(certs, 'berth-test-ca.crt'));
    writeFileSync(join(certs, 'broken.crt'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    const restarted = await t.berth(['restart']);
    expect(restarted.exitCode, restarted.stderr).toBe(0);
    const certStatus = ((await t.status()) as unknown as { network: { certificates: { count: number; warnings: string[] } } }).network.certificates;
    expect(certStatus.count).toBeGreaterThan(1);
    expect(certStatus.warnings.join('\n')).toContain('broken.crt');
    expect((await t.docker(['tag', 'busybox', image])).exitCode).toBe(0);
    const push = await t.docker(['push', image]);
    expect(push.exitCode, push.stderr).toBe(0);
    expect((await t.docker(['rmi', image])).exitCode).toBe(0);
    const pull = await t.docker(['pull', image]);
    expect(pull.exitCode, pull.stderr).toBe(0);
  }, 240_000);

  it("gives every container and build step the host's CAs (live, no restart): the image's own bundle and the variables; nothing in the layer; the opt-out restores the image as it is", async () => {
    // Two HTTPS servers on the host's loopback: one signed by a CA only the host is told to
    // trust ($BERTH_HOME/certs), one by a CA only the image trusts (its own bundle).
    const serve = async (name: string, text: string) => {
      const tls = await makeTestCa(join(t.root, name), 'host.docker.internal');
      const server = createTlsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (_req, res) => res.end(text));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      ownServers.push(server);
      return { port: (server.address() as AddressInfo).port, caCert: tls.caCert };
    };
    const corporate = await serve('corporate-ca', 'hello over inspected TLS');
    const imageOwn = await serve('image-ca', 'hello from the image CA');
    const fetch = (image: string, port: number, flags = '') => sh(`docker run --rm ${flags} ${image} curl -sS https://host.docker.internal:${port}/`);
    // The issue's image: curl and ca-certificates installed by a build, plus a CA of its own
    // (update-ca-certificates in a build step renames a new bundle over the old one).
    await ok(
      `mkdir -p ~/withcerts && echo ${readFileSync(imageOwn.caCert).toString('base64')} | base64 -d > ~/withcerts/image-ca.crt && printf 'FROM withcurl\\nRUN apt-get install -y --no-install-recommends ca-certificates\\nCOPY image-ca.crt /usr/local/share/ca-certificates/\\nRUN update-ca-certificates\\n' > ~/withcerts/Dockerfile`,
    );
    const built = await sh('cd ~/withcerts && docker build -t withcerts . 2>&1');
    expect(built.exitCode, built.stdout.slice(-3000)).toBe(0);
    const untrusted = await fetch('withcerts', corporate.port);
    expect(untrusted.exitCode, untrusted.stderr).toBe(60); // curl: the peer's certificate cannot be verified
    expect(untrusted.stderr).toMatch(/SSL certificate problem/);
    expect(await ok(`docker run --rm withcerts curl -sS https://host.docker.internal:${imageOwn.port}/`)).toBe('hello from the image CA');

    // The CA into $BERTH_HOME/certs: the next container trusts it, with no restart.
    const dockerdPid = (await t.status()).services.find((x) => x.name === 'dockerd')?.pid;
    copyFileSync(corporate.caCert, join(t.env.BERTH_HOME!, 'certs', 'corporate.crt'));
    expect(await until(async () => (await fetch('withcerts', corporate.port)).exitCode === 0, 30_000, 500), 'the new CA reached new containers').toBe(true);
    expect((await t.status()).services.find((x) => x.name === 'dockerd')?.pid).toBe(dockerdPid);
    expect((await fetch('withcerts', corporate.port)).stdout).toBe('hello over inspected TLS');
    // The image's own CA is still trusted: its bundle gained the host's, it did not lose its own.
    expect((await fetch('withcerts', imageOwn.port)).stdout).toBe('hello from the image CA');
    // An image with no bundle at all gets SSL_CERT_FILE naming the host's; a value the container sets wins.
    const vars = 'env | grep -E \\"^(SSL_CERT_FILE|NODE_EXTRA_CA_CERTS|REQUESTS_CA_BUNDLE)=\\" | sort';
    expect(await ok(`docker run --rm busybox sh -c "${vars}; grep -c BEGIN /dev/berth/ca-certificates.crt"`)).toMatch(
      /^NODE_EXTRA_CA_CERTS=\/dev\/berth\/ca-certificates\.crt\nREQUESTS_CA_BUNDLE=\/dev\/berth\/ca-certificates\.crt\nSSL_CERT_FILE=\/dev\/berth\/ca-certificates\.crt\n[1-9]\d*$/,
    );
    expect(await ok(`docker run --rm -e SSL_CERT_FILE=/mine.pem busybox sh -c "${vars}"`)).toContain('SSL_CERT_FILE=/mine.pem');
    // BERTH_HOST_CAS=env: no mount over the image's bundle; curl finds the CAs by SSL_CERT_FILE.
    expect((await fetch('withcerts', corporate.port, '-e BERTH_HOST_CAS=env')).stdout).toBe('hello over inspected TLS');
    expect((await fetch('withcerts', corporate.port, '-e BERTH_HOST_CAS=env -e SSL_CERT_FILE=/etc/no-such-bundle.crt')).exitCode).not.toBe(0);

    // A build step (BuildKit) trusts it too; the built image carries none of it.
    await ok(`mkdir -p ~/fetching && printf 'FROM withcerts\\nRUN curl -sS https://host.docker.internal:${corporate.port}/ > /fetched && update-ca-certificates\\n' > ~/fetching/Dockerfile`);
    const step = await sh('cd ~/fetching && docker build -t fetching . 2>&1');
    expect(step.exitCode, step.stdout.slice(-3000)).toBe(0);
    expect(await ok('docker run --rm fetching cat /fetched')).toBe('hello over inspected TLS');
    expect(await ok("docker image inspect -f '{{json .Config.Env}}' fetching")).not.toMatch(/SSL_CERT_FILE|NODE_EXTRA_CA_CERTS|berth/);

    // Nothing is written into the container's layer.
    await ok('docker run -d --name ca-layer withcerts sleep 600 >/dev/null');
    expect(await ok('docker diff ca-layer')).toBe('');
    await ok('docker rm -f ca-layer >/dev/null');

    // The opt-out: the image as it is (today's behaviour), at once; and back.
    const off = await t.berth(['certs', 'containers', 'off']);
    expect(off.exitCode, off.stderr).toBe(0);
    expect(off.stdout).toContain('in effect now');
    expect((await fetch('withcerts', corporate.port)).exitCode).toBe(60);
    expect((await sh('docker run --rm busybox sh -c "ls /dev/berth || printenv SSL_CERT_FILE"')).exitCode).not.toBe(0);
    expect((await t.berth(['certs'])).stdout).toContain('containers and build steps trust them too: no (berth certs containers on)');
    expect((await t.berth(['certs', 'containers', 'on'])).exitCode).toBe(0);
    expect((await fetch('withcerts', corporate.port)).stdout).toBe('hello over inspected TLS');
    expect(((await t.status()) as unknown as { network: { certificates: { containers: boolean } } }).network.certificates.containers).toBe(true);
  }, 400_000);

  it('sends the engine and containers through an upstream proxy, and switches upstream live: same dockerd, same containers', async () => {
    const image = `${REGISTRY_NAME}:${registry.port}/berth/hello:1`;
    // The upstream proxies resolve names as the backend does (its hosts file), as the user's corporate proxy would.
    const [first, second] = [await startTinyproxy(join(t.root, 'proxy'), 'first', mounts!.prefix), await startTinyproxy(join(t.root, 'proxy'), 'second', mounts!.prefix)];
    proxies.push(first, second);
    const dockerdPid = async () => (await t.status()).services.find((s) => s.name === 'dockerd')?.pid;
    const pidBefore = await dockerdPid();
    const bad = await t.berth(['proxy', 'manual', '--http', 'proxy.example:3128']);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/--http "proxy\.example:3128": not a proxy URL; write it as http:\/\/HOST:PORT/);
    const set = async (p: Service) => {
      const url = `http://127.0.0.1:${p.port}`;
      const r = await t.berth(['proxy', 'manual', '--http', url, '--https', url]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain('in effect now');
    };
    await set(first);
    await ok('docker run -d --name proxied withcurl sleep 600 >/dev/null');
    const startedAt = await ok("docker inspect -f '{{.State.StartedAt}}' proxied");
    expect(await ok('docker exec proxied printenv HTTP_PROXY')).toMatch(/^http:\/\/http\.docker\.internal:\d+$/);
    // A request from a container, then the engine's own pull: both through the first proxy.
    expect(await ok(`docker exec proxied curl -sS -o /dev/null -w '%{http_code}' ${MIRROR_FILE}`)).toBe('200');
    expect(first.log()).toContain('deb.debian.org');
    await t.docker(['rmi', image]);
    const pulled = await t.docker(['pull', image]);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(first.log()).toContain(REGISTRY_NAME);
    // The upstream changes; the next requests go to the second proxy.
    await set(second);
    expect(await ok(`docker exec proxied curl -sS -o /dev/null -w '%{http_code}' ${MIRROR_FILE}`)).toBe('200');
    expect(second.log()).toContain('deb.debian.org');
    await t.docker(['rmi', image]);
    const again = await t.docker(['pull', image]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(second.log()).toContain(REGISTRY_NAME);
    // Nothing restarted for it.
    expect(await dockerdPid()).toBe(pidBefore);
    expect(await ok("docker inspect -f '{{.State.StartedAt}}' proxied")).toBe(startedAt);
    const off = await t.berth(['proxy', 'none']);
    expect(off.exitCode, off.stderr).toBe(0);
    await ok('docker rm -f proxied >/dev/null');
  }, 240_000);

  it('works through an upstream that asks for credentials: a 407 is a status line and an event naming the fix; the password is nowhere but the secrets file', async () => {
    const password = `p4ss-${randomBytes(6).toString('hex')}`;
    const authed = await startTinyproxy(join(t.root, 'proxy'), 'authed', mounts!.prefix, { user: 'alice', password });
    proxies.push(authed);
    const at = `127.0.0.1:${authed.port}`;
    const image = `${REGISTRY_NAME}:${registry.port}/berth/hello:1`;
    const setProxy = async (url: string) => {
      const r = await t.berth(['proxy', 'manual', '--http', url, '--https', url]);
      expect(r.exitCode, r.stderr).toBe(0);
      return r.stdout;
    };
    // No credentials: the upstream answers 407, and Berth says so once, with the fix.
    await setProxy(`http://${at}`);
    await t.docker(['rmi', image]);
    expect((await t.docker(['pull', image])).exitCode).not.toBe(0);
    const fix = `the proxy at ${at} asks for credentials: \`berth proxy manual --http http://USER:PASS@${at} --https http://USER:PASS@${at}\``;
    expect((await t.berth(['status'])).stdout).toContain(`proxy problem: ${fix}`);
    expect((await t.status()).events?.join('\n')).toContain(`proxy: ${fix}`);
    // With them: the engine's pull (CONNECT) and a container's plain request both pass.
    const said = await setProxy(`http://alice:${password}@${at}`);
    expect(said).toContain(`http http://alice:***@${at}`);
    expect((await t.berth(['status'])).stdout).not.toContain('proxy problem');
    const pulled = await t.docker(['pull', image]);
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(await ok(`docker run --rm withcurl curl -sS -o /dev/null -w '%{http_code}' ${MIRROR_FILE}`)).toBe('200');
    expect(authed.log()).toContain('deb.debian.org');
    expect(authed.log()).toContain(REGISTRY_NAME);
    // The password: in the secrets file (0600) only.
    const home = t.env.BERTH_HOME!;
    expect(statSync(join(home, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(home, 'secrets.json'), 'utf8')).toContain(password);
    expect(readFileSync(join(home, 'settings.json'), 'utf8')).not.toContain(password);
    const seen = [
      ['status --json', JSON.stringify(await t.status())],
      ['status', (await t.berth(['status'])).stdout],
      ['proxy', (await t.berth(['proxy'])).stdout],
      ['logs', (await t.berth(['logs'])).stdout],
      ['the diagnostics bundle', await diagnosticsFilesWith(password)],
    ];
    for (const [where, text] of seen) expect(text, where).not.toContain(password);
    await setProxy(`http://${at}`); // the wrong (no) credentials again, for the next tests' sake: then none
    expect((await t.berth(['proxy', 'none'])).exitCode).toBe(0);
  }, 240_000);

  it('follows a PAC file: one host through a proxy (falling back along the list), another direct; a changed file takes effect with no restart; a broken one keeps the last good', async () => {
    const viaPac = await startTinyproxy(join(t.root, 'proxy'), 'pac', mounts!.prefix);
    proxies.push(viaPac);
    const dead = await freePort(); // nothing listens there: the list falls back past it
    let pacText = '';
    let pacStatus = 200;
    const pacServer = createServer((_req, res) => res.writeHead(pacStatus).end(pacText));
    await new Promise<void>((r) => pacServer.listen(0, '127.0.0.1', r));
    ownServers.push(pacServer);
    const pacUrl = `http://127.0.0.1:${(pacServer.address() as AddressInfo).port}/proxy.pac`;
    const pacFor = (proxied: string) => `function FindProxyForURL(url, host) { if (dnsDomainIs(host, "${proxied}")) return "PROXY 127.0.0.1:${dead}; PROXY 127.0.0.1:${viaPac.port}; DIRECT"; return "DIRECT"; }`;
    const image = `${REGISTRY_NAME}:${registry.port}/berth/hello:1`;
    const pullThrough = async () => {
      await t.docker(['rmi', image]);
      const r = await t.docker(['pull', image]);
      expect(r.exitCode, r.stderr).toBe(0);
    };
    const mirrorHits = () =>
      viaPac
        .log()
        .split('\n')
        .filter((l) => l.includes('deb.debian.org')).length;
    const dockerdPid = (await t.status()).services.find((x) => x.name === 'dockerd')?.pid;

    // First: the mirror through the proxy, the registry direct.
    pacText = pacFor('deb.debian.org');
    const set = await t.berth(['proxy', 'pac', pacUrl]);
    expect(set.exitCode, set.stderr).toBe(0);
    expect(set.stdout).toContain(`in effect now (no restart): engine pac ${pacUrl}`);
    expect(await ok(`docker run --rm withcurl curl -sS -o /dev/null -w '%{http_code}' ${MIRROR_FILE}`)).toBe('200');
    const hitsWhileProxied = mirrorHits();
    expect(hitsWhileProxied).toBeGreaterThan(0);
    await pullThrough();
    expect(viaPac.log()).not.toContain(REGISTRY_NAME);

    // The file changes: within a refresh (1 s here), the registry goes through the proxy and the mirror direct.
    pacText = pacFor(REGISTRY_NAME);
    expect(await until(async () => (await pullThrough(), viaPac.log().includes(REGISTRY_NAME)), 30_000, 1000), 'the changed PAC took effect').toBe(true);
    expect(await ok(`docker run --rm withcurl curl -sS -o /dev/null -w '%{http_code}' ${MIRROR_FILE}`)).toBe('200');
    expect(mirrorHits()).toBe(hitsWhileProxied);
    expect((await t.status()).services.find((x) => x.name === 'dockerd')?.pid).toBe(dockerdPid);

    // It breaks: a status line and an event; the last good file stays in use.
    pacStatus = 404;
    const broken = `cannot fetch the PAC file ${pacUrl} (${pacUrl}: status 404); the last good one stays in use`;
    expect(await until(async () => (await t.berth(['status'])).stdout.includes(`proxy problem: ${broken}`), 30_000, 500), 'the broken PAC is a status line').toBe(true);
    expect((await t.status()).events?.join('\n')).toContain(`proxy: ${broken}`);
    const before = viaPac.log().split(REGISTRY_NAME).length;
    await pullThrough();
    expect(viaPac.log().split(REGISTRY_NAME).length).toBeGreaterThan(before);
    // A bad URL is refused where it is typed.
    const bad = await t.berth(['proxy', 'pac', 'wpad.corp/proxy.pac']);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain('proxy pac URL "wpad.corp/proxy.pac": not a PAC URL; write it as http://HOST/proxy.pac');
    expect((await t.berth(['proxy', 'none'])).exitCode).toBe(0);
    expect((await t.berth(['status'])).stdout).not.toContain('proxy problem');
  }, 240_000);

  it('keeps one docker login for every distro: login in one, pull in another, logout everywhere; the store is readable by no distro user, container or log', async () => {
    const password = `reg-${randomBytes(6).toString('hex')}`;
    const privateRegistry = await startRegistry(join(t.root, 'private-registry'), ca, { user: 'alice', password });
    registries.push(privateRegistry);
    const server = `${REGISTRY_NAME}:${privateRegistry.port}`;
    const image = `${server}/berth/private:1`;
    // A second integrated distro, with a user of the docker group (me) and one outside it (guest).
    const other = await makeRootfsTarball(t.root, 'Other');
    expect((await t.wsl(['--import', 'Other', join(t.root, 'distros/Other'), other])).exitCode).toBe(0);
    const integrated = await t.berth(['integrate', 'Other']);
    expect(integrated.exitCode, integrated.stderr).toBe(0);
    const inOther = (script: string, user = 'me') => t.sh('Other', script, user);

    // Each distro's user now keeps logins in Berth's store.
    expect(JSON.parse(await ok('cat ~/.docker/config.json'))).toEqual({ credsStore: 'berth' });
    expect((await sh(`docker pull ${image} 2>&1`)).stdout).toMatch(/unauthorized|no basic auth credentials|authentication required/i);
    const login = await sh(`echo ${password} | docker login ${server} -u alice --password-stdin 2>&1`);
    expect(login.exitCode, login.stdout).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');
    expect(await ok('cat ~/.docker/config.json')).not.toContain(password);
    await ok(`docker tag busybox ${image} && docker push ${image} >/dev/null && docker rmi ${image} >/dev/null`);
    // Pulled from the other distro with no login there.
    const pulled = await inOther(`docker pull ${image} 2>&1`);
    expect(pulled.exitCode, pulled.stdout).toBe(0);
    expect((await inOther('echo ' + server + ' | docker-credential-berth get')).stdout).toBe(JSON.stringify({ ServerURL: server, Username: 'alice', Secret: password }));

    // Who cannot read it: a user outside the docker group, a container (the socket is root's), the logs.
    expect((await inOther("echo 'guest:x:1001:1001:Guest:/tmp:/bin/sh' >> /etc/passwd && echo 'guest:x:1001:' >> /etc/group", 'root')).exitCode).toBe(0);
    const guest = await inOther(`echo ${server} | docker-credential-berth get`, 'guest');
    expect(guest.exitCode).not.toBe(0);
    expect(guest.stdout).not.toContain(password);
    expect(guest.stdout, guest.stderr).toMatch(/EACCES|permission denied/i);
    expect(await ok('stat -c %a /mnt/wsl/berth/credentials.sock', 'root')).toBe('600');
    const store = join(t.env.BERTH_HOME!, 'credentials.json');
    expect(statSync(store).mode & 0o777).toBe(0o600);
    expect(readFileSync(store, 'utf8')).toContain(password);
    expect((await sh(`grep -rsl ${password} /mnt/wsl/berth/*.json /home /root /etc; true`, 'root')).stdout).toBe('');
    expect(await diagnosticsFilesWith(password)).toBe('');
    expect((await t.berth(['logs'])).stdout).not.toContain(password);

    // Logout in the other distro is a logout everywhere.
    await inOther(`docker logout ${server}`);
    await ok(`docker rmi ${image} >/dev/null 2>&1 || true`);
    await inOther(`docker rmi ${image} >/dev/null 2>&1 || true`);
    expect((await sh(`docker pull ${image} 2>&1`)).exitCode).not.toBe(0);
    expect(readFileSync(store, 'utf8')).not.toContain(password);

    // Integration off takes Berth's store out of the user's config again (Berth made the file: it goes).
    expect((await t.berth(['integrate', 'Other', '--off'])).exitCode).toBe(0);
    expect((await inOther('cat ~/.docker/config.json 2>&1; ls /usr/local/bin/docker-credential-berth 2>&1')).stdout).toMatch(/No such file[\s\S]*No such file/);
  }, 300_000);

  it('restarts the engine link when its process is killed, and containers reach the host again', async () => {
    const first = await network();
    expect(first.state).toBe('up');
    process.kill(first.pid!, 'SIGKILL');
    expect(
      await until(async () => {
        const n = await network();
        return n.state === 'up' && n.pid !== first.pid;
      }, 30_000),
    ).toBe(true);
    expect((await network()).restarts).toBe(first.restarts + 1);
    expect(await ok(`docker run --rm withcurl curl -sS http://host.docker.internal:${httpPort}/`)).toBe('hello from the host');
    // The outbound relay is part of the link: killed, both come back.
    const second = await network();
    process.kill(second.tcpRelayPid!, 'SIGKILL');
    expect(await until(async () => ((n) => n.state === 'up' && n.tcpRelayPid !== second.tcpRelayPid && n.pid !== second.pid)(await network()), 30_000)).toBe(true);
    expect((await network()).restarts).toBe(second.restarts + 1);
    expect(await ok(`docker run --rm withcurl curl -sS http://host.docker.internal:${httpPort}/`)).toBe('hello from the host');
  }, 120_000);

  it("shows the link in status and diagnose (resolv.conf, routes, the link's log)", async () => {
    const human = await t.berth(['status']);
    expect(human.stdout).toMatch(new RegExp(`network\\s+up\\s+slirp4netns pid \\d+, TCP by berth-relay pid \\d+, ${ENGINE_LINK.address} via ${ENGINE_LINK.gateway}`));
    const diag = await t.berth(['diagnose']);
    expect(diag.exitCode, diag.stderr).toBe(0);
    const bundle = diag.stdout.trim().split('\n').pop()!;
    const list = (await execa('tar', ['-tzf', bundle])).stdout;
    for (const f of ['network/engine-resolv.conf', 'network/engine-routes.txt', 'network/engine-link.log', 'network/engine-rules.txt']) expect(list).toContain(f);
    const routes = (await execa('tar', ['-xzOf', bundle, './network/engine-routes.txt'])).stdout;
    expect(routes).toContain(`default via ${ENGINE_LINK.gateway}`);
  }, 120_000);

  it("leaves the host's own network setup exactly as it was once WSL shuts down", async () => {
    expect((await t.berth(['stop'])).exitCode).toBe(0);
    expect((await t.wsl(['--shutdown'])).exitCode).toBe(0);
    expect(await hostNetworkSnapshot()).toEqual(before);
    // Nothing of the links is left running.
    const left = (await execa('ps', ['-eo', 'args'])).stdout.split('\n').filter((l) => /pasta|slirp4netns|berth-relay outbound/.test(l) && l.includes(t.root));
    expect(left).toEqual([]);
  }, 120_000);
});
