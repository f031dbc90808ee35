import { execa } from 'execa';

const DNS_CHAIN = 'BERTH-DNS';
const LINK_CHAIN = 'BERTH-LINK';

/**
 * The rules inside the engine's namespace that the link needs, in Berth's own chains
 * (flushed and refilled, so a restarted backend replaces them rather than adding more):
 * - DNS to the gateway (port 53, where containers and dockerd send it) goes to Berth DNS's
 *   port on the gateway, which pasta carries to the host's loopback;
 * - a segment from the link that conntrack calls INVALID is dropped. Bookworm's pasta sends
 *   window updates without the ACK flag; such a segment is not un-NATed, reaches the
 *   namespace's own stack, and its RST would kill every container's connection.
 * The values reach the shell as positional parameters, never spliced in.
 */
const SCRIPT = `
set -e
gw=$1 port=$2 dev=$3
chain() { iptables -w -t "$1" -N "$2" 2>/dev/null || true; iptables -w -t "$1" -F "$2"; }
jump() { iptables -w -t "$1" -C "$2" $3 -j "$4" 2>/dev/null || iptables -w -t "$1" -I "$2" $3 -j "$4"; }
chain nat ${DNS_CHAIN}
iptables -w -t nat -A ${DNS_CHAIN} -p udp --dport 53 -j DNAT --to-destination "$gw:$port"
iptables -w -t nat -A ${DNS_CHAIN} -p tcp --dport 53 -j DNAT --to-destination "$gw:$port"
jump nat PREROUTING "-d $gw" ${DNS_CHAIN}
jump nat OUTPUT "-d $gw" ${DNS_CHAIN}
chain filter ${LINK_CHAIN}
iptables -w -t filter -A ${LINK_CHAIN} -m conntrack --ctstate INVALID -j DROP
jump filter INPUT "-i $dev" ${LINK_CHAIN}
`;

export async function applyLinkRules(netns: string, o: { gateway: string; dnsPort: number; device: string }): Promise<void> {
  if (!Number.isInteger(o.dnsPort) || o.dnsPort <= 0 || o.dnsPort > 65535) throw new Error(`applyLinkRules: bad port ${o.dnsPort}`);
  if (!/^[\d.]+$/.test(o.gateway) || !/^[\w.-]+$/.test(o.device)) throw new Error('applyLinkRules: bad gateway or device');
  const r = await execa('nsenter', [`--net=${netns}`, 'sh', '-c', SCRIPT, 'berth-link-rules', o.gateway, String(o.dnsPort), o.device], { reject: false });
  if (r.exitCode !== 0) throw new Error(`could not set up the engine link's rules in the engine namespace: ${r.stderr || r.stdout || `exit ${r.exitCode}`}`);
}
