import dnsPacket, { type Answer, type DecodedPacket, type Question } from 'dns-packet';
import { NameNotFound, type HostResolver } from './host-resolver.js';

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;
const TTL_SECONDS = 0; // the host decides; a later lookup must see a changed hosts file or VPN

/**
 * Answers one DNS query the way Berth DNS does (seed 001's second and third tiers):
 * `*.docker.internal` names from `internalNames`; A and AAAA through the host's resolver
 * library, so hosts-file entries and VPN per-domain resolvers count; every other type
 * forwarded to the host's nameservers. NXDOMAIN stays NXDOMAIN; a failure is SERVFAIL,
 * never silence, so a client does not wait out its timeout.
 */
export async function answerQuery(
  query: Buffer,
  resolver: HostResolver,
  internalNames: ReadonlyMap<string, string>,
  /** The engine's address for the host's 127.0.0.1 (a name the host resolves there must reach the host). */
  hostLoopbackAs?: string,
): Promise<Buffer> {
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(query);
  } catch {
    return formatError(query);
  }
  const question = packet.questions?.[0];
  if (packet.type !== 'query' || !question || packet.questions!.length !== 1) return reply(packet, RCODE.FORMERR, []);
  const name = question.name.toLowerCase().replace(/\.$/, '');
  const internal = internalNames.get(name);
  if (internal !== undefined) return reply(packet, RCODE.NOERROR, question.type === 'A' ? [addressAnswer(question, internal)] : []);
  if (question.type === 'A' || question.type === 'AAAA') {
    try {
      const found = await resolver.lookup(name, question.type === 'A' ? 4 : 6);
      const addresses = hostLoopbackAs ? found.filter((a) => a !== '::1').map((a) => (a === '127.0.0.1' ? hostLoopbackAs : a)) : found;
      return reply(
        packet,
        RCODE.NOERROR,
        [...new Set(addresses)].map((a) => addressAnswer(question, a)),
      );
    } catch (e) {
      return reply(packet, e instanceof NameNotFound ? RCODE.NXDOMAIN : RCODE.SERVFAIL, []);
    }
  }
  try {
    return await resolver.forward(query);
  } catch {
    return reply(packet, RCODE.SERVFAIL, []);
  }
}

function addressAnswer(q: Question, address: string): Answer {
  return { type: address.includes(':') ? 'AAAA' : 'A', name: q.name, class: 'IN', ttl: TTL_SECONDS, data: address };
}

function reply(query: DecodedPacket, rcode: number, answers: Answer[]): Buffer {
  const flags = dnsPacket.RECURSION_AVAILABLE | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | rcode;
  return dnsPacket.encode({ type: 'response', id: query.id, flags, questions: query.questions, answers });
}

/** A query too broken to decode still gets an answer with its id, if it has one. */
function formatError(query: Buffer): Buffer {
  const header = Buffer.alloc(12);
  if (query.length >= 2) query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8000 | dnsPacket.RECURSION_AVAILABLE | RCODE.FORMERR, 2);
  return header;
}
