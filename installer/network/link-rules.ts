import { execa } from 'execa';

const HOST_CHAIN = 'BERTH-HOST';

/** A port on the gateway (the host, as the engine sees it) served by a host-side port of Berth's. */
export interface GatewayRedirect {
  proto: 'tcp' | 'udp';
  port: number;
  to: number;
}

/**
 * The rules inside the engine's namespace that the link needs, in Berth's own chains
 * (flushed and refilled, so a restarted backend replaces them rather than adding more):
 * the gateway's well-known ports (DNS 53, the internal proxies 3128 and 3129), where
 * containers and dockerd send their traffic, go to the loopback ports Berth's servers really
 * have on the host; the link carries traffic to the gateway to the host's loopback.
 * Values reach the shell as positional parameters, never spliced in.
 */
const SCRIPT = `
set -e
gw=$1
shift
chain() { iptables -w -t "$1" -N "$2" 2>/dev/null || true; iptables -w -t "$1" -F "$2"; }
jump() { iptables -w -t "$1" -C "$2" "$3" "$4" -j "$5" 2>/dev/null || iptables -w -t "$1" -I "$2" "$3" "$4" -j "$5"; }
chain nat ${HOST_CHAIN}
while [ $# -ge 3 ]; do
  iptables -w -t nat -A ${HOST_CHAIN} -p "$1" --dport "$2" -j DNAT --to-destination "$gw:$3"
  shift 3
done
jump nat PREROUTING -d "$gw" ${HOST_CHAIN}
jump nat OUTPUT -d "$gw" ${HOST_CHAIN}
`;

const isPort = (n: number) => Number.isInteger(n) && n > 0 && n <= 65535;

export async function applyLinkRules(netns: string, o: { gateway: string; redirects: GatewayRedirect[] }): Promise<void> {
  if (!/^[\d.]+$/.test(o.gateway)) throw new Error(`applyLinkRules: bad gateway ${o.gateway}`);
  const bad = o.redirects.find((r) => !isPort(r.port) || !isPort(r.to) || (r.proto !== 'tcp' && r.proto !== 'udp'));
  if (bad) throw new Error(`applyLinkRules: bad redirect ${JSON.stringify(bad)}`);
  const args = o.redirects.flatMap((r) => [r.proto, String(r.port), String(r.to)]);
  const r = await execa('nsenter', [`--net=${netns}`, 'sh', '-c', SCRIPT, 'berth-link-rules', o.gateway, ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`could not set up the engine link's rules in the engine namespace: ${r.stderr || r.stdout || `exit ${r.exitCode}`}`);
}
