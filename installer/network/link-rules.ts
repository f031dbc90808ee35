import { execa } from 'execa';

const HOST_CHAIN = 'BERTH-HOST';
const LINK_CHAIN = 'BERTH-LINK';

/** A port on the gateway (the host, as the engine sees it) served by a host-side port of Berth's. */
export interface GatewayRedirect {
  proto: 'tcp' | 'udp';
  port: number;
  to: number;
}

/**
 * The rules inside the engine's namespace that the link needs, in Berth's own chains
 * (flushed and refilled, so a restarted backend replaces them rather than adding more):
 * - the gateway's well-known ports (DNS 53, the internal proxy 3128), where containers and
 *   dockerd send their traffic, go to the loopback ports Berth's servers really have on the
 *   host; pasta carries traffic to the gateway to the host's loopback;
 * - a segment from the link that conntrack calls INVALID is dropped. Bookworm's pasta sends
 *   window updates without the ACK flag; such a segment is not un-NATed, reaches the
 *   namespace's own stack, and its RST would kill every container's connection.
 * Values reach the shell as positional parameters, never spliced in.
 */
const SCRIPT = `
set -e
gw=$1 dev=$2
shift 2
chain() { iptables -w -t "$1" -N "$2" 2>/dev/null || true; iptables -w -t "$1" -F "$2"; }
jump() { iptables -w -t "$1" -C "$2" "$3" "$4" -j "$5" 2>/dev/null || iptables -w -t "$1" -I "$2" "$3" "$4" -j "$5"; }
chain nat ${HOST_CHAIN}
while [ $# -ge 3 ]; do
  iptables -w -t nat -A ${HOST_CHAIN} -p "$1" --dport "$2" -j DNAT --to-destination "$gw:$3"
  shift 3
done
jump nat PREROUTING -d "$gw" ${HOST_CHAIN}
jump nat OUTPUT -d "$gw" ${HOST_CHAIN}
chain filter ${LINK_CHAIN}
iptables -w -t filter -A ${LINK_CHAIN} -m conntrack --ctstate INVALID -j DROP
jump filter INPUT -i "$dev" ${LINK_CHAIN}
`;

const isPort = (n: number) => Number.isInteger(n) && n > 0 && n <= 65535;

export async function applyLinkRules(netns: string, o: { gateway: string; device: string; redirects: GatewayRedirect[] }): Promise<void> {
  if (!/^[\d.]+$/.test(o.gateway) || !/^[\w.-]+$/.test(o.device)) throw new Error(`applyLinkRules: bad gateway ${o.gateway} or device ${o.device}`);
  const bad = o.redirects.find((r) => !isPort(r.port) || !isPort(r.to) || (r.proto !== 'tcp' && r.proto !== 'udp'));
  if (bad) throw new Error(`applyLinkRules: bad redirect ${JSON.stringify(bad)}`);
  const args = o.redirects.flatMap((r) => [r.proto, String(r.port), String(r.to)]);
  const r = await execa('nsenter', [`--net=${netns}`, 'sh', '-c', SCRIPT, 'berth-link-rules', o.gateway, o.device, ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`could not set up the engine link's rules in the engine namespace: ${r.stderr || r.stdout || `exit ${r.exitCode}`}`);
}
