import { createSocket } from 'node:dgram';
import { createConnection } from 'node:net';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_INTERNAL_NAMES, ENGINE_LINK } from '../../installer/network/addresses.js';
import { answerQuery } from '../../installer/network/dns-answer.js';
import { startDnsServer, type DnsServer } from '../../installer/network/dns-server.js';
import { NameNotFound, SystemResolver, type HostResolver } from '../../installer/network/host-resolver.js';

/** dns-packet decodes the response code too; its types leave it out. */
type Decoded = dnsPacket.DecodedPacket & { rcode: string };
const decode = (b: Buffer) => dnsPacket.decode(b) as Decoded;

/** A host resolver with fixed answers, counting forwards. */
class FakeResolver implements HostResolver {
  forwarded = 0;
  constructor(private readonly names: Record<string, { 4?: string[]; 6?: string[] }>) {}
  async lookup(name: string, family: 4 | 6): Promise<string[]> {
    if (name === 'broken.test') throw new Error('resolver on fire');
    const entry = this.names[name];
    if (!entry) throw new NameNotFound(name);
    return entry[family] ?? [];
  }
  async forward(query: Buffer): Promise<Buffer> {
    this.forwarded++;
    const q = dnsPacket.decode(query);
    if (q.questions![0]!.name === 'down.test') throw new Error('no nameserver');
    return dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.RECURSION_AVAILABLE,
      questions: q.questions,
      answers: [{ type: 'TXT', name: q.questions![0]!.name, data: 'from the host nameserver' }],
    });
  }
}

const resolver = new FakeResolver({
  'box.corp': { 4: ['10.1.2.3'] },
  'v6only.test': { 6: ['2001:db8::1'] },
  'loop.test': { 4: ['127.0.0.1'], 6: ['::1'] },
  'many.test': { 4: ['192.0.2.1', '192.0.2.2'] },
});

const query = (name: string, type: 'A' | 'AAAA' | 'TXT' | 'SRV', id = 7) => dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
const ask = async (name: string, type: 'A' | 'AAAA' | 'TXT' | 'SRV') => decode(await answerQuery(query(name, type), resolver, DOCKER_INTERNAL_NAMES, ENGINE_LINK.gateway));
const data = (p: dnsPacket.DecodedPacket) => (p.answers ?? []).map((a) => ('data' in a ? a.data : undefined));

describe('Berth DNS answers', () => {
  it('answers *.docker.internal itself with the gateway (A), and no data for AAAA', async () => {
    for (const name of ['host.docker.internal', 'gateway.docker.internal', 'HOST.Docker.Internal.']) {
      const a = await ask(name, 'A');
      expect(a.rcode).toBe('NOERROR');
      expect(data(a)).toEqual([ENGINE_LINK.gateway]);
    }
    const aaaa = await ask('host.docker.internal', 'AAAA');
    expect(aaaa.rcode).toBe('NOERROR');
    expect(aaaa.answers).toEqual([]);
  });

  it('answers A and AAAA from the host resolver, keeping id and question', async () => {
    const a = await ask('box.corp', 'A');
    expect(a).toMatchObject({ id: 7, type: 'response', rcode: 'NOERROR', flag_rd: true, flag_ra: true });
    expect(a.questions).toEqual([{ name: 'box.corp', type: 'A', class: 'IN' }]);
    expect(data(a)).toEqual(['10.1.2.3']);
    expect(data(await ask('many.test', 'A'))).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(data(await ask('v6only.test', 'AAAA'))).toEqual(['2001:db8::1']);
  });

  it("names the host's 127.0.0.1 by the gateway (which reaches it) and leaves out ::1", async () => {
    expect(data(await ask('loop.test', 'A'))).toEqual([ENGINE_LINK.gateway]);
    expect((await ask('loop.test', 'AAAA')).answers).toEqual([]);
  });

  it('keeps NXDOMAIN, says NODATA for a name without that family, SERVFAIL when the resolver fails', async () => {
    expect((await ask('nope.test', 'A')).rcode).toBe('NXDOMAIN');
    const nodata = await ask('v6only.test', 'A');
    expect(nodata.rcode).toBe('NOERROR');
    expect(nodata.answers).toEqual([]);
    expect((await ask('broken.test', 'A')).rcode).toBe('SERVFAIL');
  });

  it("forwards other types to the host's nameservers, SERVFAIL when none answers", async () => {
    const before = resolver.forwarded;
    const txt = await ask('svc.corp', 'TXT');
    expect(resolver.forwarded).toBe(before + 1);
    expect(txt.answers?.[0]).toMatchObject({ type: 'TXT' });
    expect((await ask('down.test', 'SRV')).rcode).toBe('SERVFAIL');
  });

  it('answers garbage with FORMERR (keeping the id it can read), never silence', async () => {
    const junk = Buffer.from([0x12, 0x34, 0xff, 0xff, 0, 9]);
    const r = await answerQuery(junk, resolver, DOCKER_INTERNAL_NAMES);
    expect(r.readUInt16BE(0)).toBe(0x1234);
    expect(r.readUInt16BE(2) & 0x000f).toBe(1);
    expect((await answerQuery(Buffer.alloc(0), resolver, DOCKER_INTERNAL_NAMES)).readUInt16BE(2) & 0x8000).toBe(0x8000);
  });
});

describe('the system resolver', () => {
  it('resolves localhost through getaddrinfo and says NameNotFound for an .invalid name', async () => {
    const r = new SystemResolver();
    expect(await r.lookup('localhost', 4)).toContain('127.0.0.1');
    await expect(r.lookup('no-such-name.invalid', 4)).rejects.toBeInstanceOf(NameNotFound);
  });
});

describe('Berth DNS server (UDP and TCP on one loopback port)', () => {
  let server: DnsServer;
  const long = new FakeResolver({ 'big.test': { 4: Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 1}`) }, 'box.corp': { 4: ['10.1.2.3'] } });
  beforeAll(async () => {
    server = await startDnsServer({ resolver: long, internalNames: DOCKER_INTERNAL_NAMES, log: () => {} });
  });
  afterAll(async () => server?.close());

  const udp = (q: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      const s = createSocket('udp4');
      setTimeout(() => reject(new Error('no answer')), 5000).unref();
      s.once('message', (m) => {
        s.close();
        resolve(m);
      });
      s.send(q, server.port, '127.0.0.1');
    });
  const tcp = (queries: Buffer[]) =>
    new Promise<Buffer[]>((resolve, reject) => {
      const c = createConnection(server.port, '127.0.0.1');
      let got = Buffer.alloc(0);
      const answers: Buffer[] = [];
      c.on('data', (d) => {
        got = Buffer.concat([got, d]);
        while (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          answers.push(got.subarray(2, 2 + got.readUInt16BE(0)));
          got = got.subarray(2 + got.readUInt16BE(0));
        }
        if (answers.length === queries.length) {
          c.destroy();
          resolve(answers);
        }
      });
      c.on('error', reject);
      // All in one write, the length prefix of the second split from its body by nothing: a stream.
      c.write(Buffer.concat(queries.map((q) => Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]))));
    });

  it('answers over UDP', async () => {
    const a = decode(await udp(query('box.corp', 'A', 99)));
    expect(a).toMatchObject({ id: 99, rcode: 'NOERROR' });
    expect(data(a)).toEqual(['10.1.2.3']);
  });

  it('sets TC on a UDP answer over 512 bytes, and gives it whole over TCP', async () => {
    const viaUdp = await udp(query('big.test', 'A', 5));
    expect(viaUdp.length).toBeLessThanOrEqual(512);
    const decoded = decode(viaUdp);
    expect(decoded.flag_tc).toBe(true);
    expect(decoded.questions).toEqual([{ name: 'big.test', type: 'A', class: 'IN' }]);
    const [whole] = await tcp([query('big.test', 'A', 5)]);
    expect(decode(whole!).answers).toHaveLength(60);
  });

  it('answers several queries sent together on one TCP connection, NXDOMAIN included', async () => {
    const answers = (await tcp([query('box.corp', 'A', 1), query('nope.test', 'A', 2)])).map((a) => decode(a));
    expect(answers.map((a) => [a.id, a.rcode]).sort()).toEqual([
      [1, 'NOERROR'],
      [2, 'NXDOMAIN'],
    ]);
  });
});
