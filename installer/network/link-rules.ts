import { execa } from 'execa';
import { LEGACY_PROBE_ARGS } from '../../common/engine-iptables.js';

const HOST_CHAIN = 'BERTH-HOST';
const OUT_CHAIN = 'BERTH-OUT';

/** A port on the gateway (the host, as the engine sees it) served by a host-side port of Berth's. */
export interface GatewayRedirect {
  proto: 'tcp' | 'udp';
  port: number;
  to: number;
}

/**
 * Destinations the engine's TCP keeps on slirp4netns rather than the outbound relay: its
 * own networks (docker's bridges are carved from the private ranges) and what no relay
 * could open for it. A VPN's private hosts still work this way, only not at the relay's speed.
 */
export const LEFT_TO_SLIRP = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '224.0.0.0/3'];

/**
 * The rules inside the engine's namespace that the link needs, in Berth's own chains
 * (flushed and refilled, so a restarted backend replaces them rather than adding more):
 * - the gateway's well-known ports (DNS 53, the internal proxies 3128 and 3129), where
 *   containers and dockerd send their traffic, go to the loopback ports Berth's servers
 *   really have on the host; the link carries traffic to the gateway to the host's loopback;
 * - with an outbound relay, every other new TCP connection to the gateway or to a public
 *   address is REDIRECTed to the relay's port, which opens it from the host's side.
 * Values reach the shell as positional parameters, never spliced in.
 */
const SCRIPT = `
set -e
gw=$1 dev=$2 out=$3 private=$4
shift 4
# The engine's own iptables backend, probed as its onboot action "iptables" does (common/engine-iptables.ts).
ipt=iptables-nft
iptables-legacy ${LEGACY_PROBE_ARGS.join(' ')} >/dev/null 2>&1 && ipt=iptables-legacy
chain() { "$ipt" -w -t "$1" -N "$2" 2>/dev/null || true; "$ipt" -w -t "$1" -F "$2"; }
chain nat ${HOST_CHAIN}
chain nat ${OUT_CHAIN}
while [ $# -ge 3 ]; do
  "$ipt" -w -t nat -A ${HOST_CHAIN} -p "$1" --dport "$2" -j DNAT --to-destination "$gw:$3"
  [ "$1" != tcp ] || "$ipt" -w -t nat -A ${OUT_CHAIN} -d "$gw" -p tcp --dport "$2" -j RETURN
  shift 3
done
if [ -n "$out" ]; then
  # The engine's own addresses (any bridge's, whatever its range) are dockerd's to DNAT, before or after this chain.
  "$ipt" -w -t nat -A ${OUT_CHAIN} -m addrtype --dst-type LOCAL -j RETURN
  "$ipt" -w -t nat -A ${OUT_CHAIN} -d "$gw" -p tcp -j REDIRECT --to-ports "$out"
  "$ipt" -w -t nat -A ${OUT_CHAIN} -d "$private" -j RETURN
  "$ipt" -w -t nat -A ${OUT_CHAIN} -p tcp -j REDIRECT --to-ports "$out"
fi
"$ipt" -w -t nat -C PREROUTING -d "$gw" -j ${HOST_CHAIN} 2>/dev/null || "$ipt" -w -t nat -I PREROUTING -d "$gw" -j ${HOST_CHAIN}
"$ipt" -w -t nat -C OUTPUT -d "$gw" -j ${HOST_CHAIN} 2>/dev/null || "$ipt" -w -t nat -I OUTPUT -d "$gw" -j ${HOST_CHAIN}
# What arrives from the link itself is the outside world's, never the engine's own way out.
"$ipt" -w -t nat -C PREROUTING ! -i "$dev" -p tcp -j ${OUT_CHAIN} 2>/dev/null || "$ipt" -w -t nat -A PREROUTING ! -i "$dev" -p tcp -j ${OUT_CHAIN}
"$ipt" -w -t nat -C OUTPUT -p tcp -j ${OUT_CHAIN} 2>/dev/null || "$ipt" -w -t nat -A OUTPUT -p tcp -j ${OUT_CHAIN}
`;

const isPort = (n: number) => Number.isInteger(n) && n > 0 && n <= 65535;

export interface LinkRules {
  gateway: string;
  /** The link's device in the engine's namespace. */
  device: string;
  redirects: GatewayRedirect[];
  /** The outbound relay's port in the engine's namespace; without it, all TCP stays on slirp4netns. */
  outboundPort?: number;
}

/** The script's positional parameters, checked so that none can be read as more than one value. */
export function linkRuleArgs(o: LinkRules): string[] {
  if (!/^[\d.]+$/.test(o.gateway)) throw new Error(`applyLinkRules: bad gateway ${o.gateway}`);
  if (!/^[\w.-]{1,15}$/.test(o.device)) throw new Error(`applyLinkRules: bad device ${o.device}`);
  const bad = o.redirects.find((r) => !isPort(r.port) || !isPort(r.to) || (r.proto !== 'tcp' && r.proto !== 'udp'));
  if (bad) throw new Error(`applyLinkRules: bad redirect ${JSON.stringify(bad)}`);
  if (o.outboundPort !== undefined && !isPort(o.outboundPort)) throw new Error(`applyLinkRules: bad outbound port ${o.outboundPort}`);
  const triples = o.redirects.flatMap((r) => [r.proto, String(r.port), String(r.to)]);
  return [o.gateway, o.device, o.outboundPort === undefined ? '' : String(o.outboundPort), LEFT_TO_SLIRP.join(','), ...triples];
}

/** `xtablesLock`: the lock every writer of the engine's rules takes (common/engine-iptables.ts), as the host reaches it (the agent's start makes its directory). */
export async function applyLinkRules(netns: string, o: LinkRules, xtablesLock: string): Promise<void> {
  const r = await execa('nsenter', [`--net=${netns}`, 'sh', '-c', SCRIPT, 'berth-link-rules', ...linkRuleArgs(o)], { reject: false, env: { XTABLES_LOCKFILE: xtablesLock } });
  if (r.exitCode !== 0) throw new Error(`could not set up the engine link's rules in the engine namespace: ${r.stderr || r.stdout || `exit ${r.exitCode}`}`);
}
