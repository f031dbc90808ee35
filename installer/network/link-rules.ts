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
 * (declared in one `iptables-restore --noflush`, which flushes a chain it declares, so a
 * restarted backend replaces them rather than adding more):
 * - the gateway's well-known ports (DNS 53, the internal proxies 3128 and 3129), where
 *   containers and dockerd send their traffic, go to the loopback ports Berth's servers
 *   really have on the host; the link carries traffic to the gateway to the host's loopback;
 * - with an outbound relay, every other new TCP connection to the gateway or to a public
 *   address is REDIRECTed to the relay's port, which opens it from the host's side.
 * One restore, not a command a rule: the link is attached while dockerd starts, and each
 * command took the lock that dockerd's own ~100 iptables commands wait on.
 */
export function linkRulesRestore(o: LinkRules): string {
  checkLinkRules(o);
  const rules = o.redirects.flatMap((r) => [
    `-A ${HOST_CHAIN} -p ${r.proto} --dport ${r.port} -j DNAT --to-destination ${o.gateway}:${r.to}`,
    ...(r.proto === 'tcp' ? [`-A ${OUT_CHAIN} -d ${o.gateway} -p tcp --dport ${r.port} -j RETURN`] : []),
  ]);
  if (o.outboundPort !== undefined) {
    rules.push(
      // The engine's own addresses (any bridge's, whatever its range) are dockerd's to DNAT, before or after this chain.
      `-A ${OUT_CHAIN} -m addrtype --dst-type LOCAL -j RETURN`,
      `-A ${OUT_CHAIN} -d ${o.gateway} -p tcp -j REDIRECT --to-ports ${o.outboundPort}`,
      `-A ${OUT_CHAIN} -d ${LEFT_TO_SLIRP.join(',')} -j RETURN`,
      `-A ${OUT_CHAIN} -p tcp -j REDIRECT --to-ports ${o.outboundPort}`,
    );
  }
  return ['*nat', `:${HOST_CHAIN} - [0:0]`, `:${OUT_CHAIN} - [0:0]`, ...rules, 'COMMIT', ''].join('\n');
}

/**
 * The restore comes on stdin; the jumps into the chains are added only where missing (a
 * restore cannot ask), with the gateway and the device as positional parameters, never
 * spliced into the script.
 */
const SCRIPT = `
set -e
gw=$1 dev=$2
# The engine's own iptables backend, probed as its onboot action "iptables" does (common/engine-iptables.ts).
ipt=iptables-nft
iptables-legacy ${LEGACY_PROBE_ARGS.join(' ')} >/dev/null 2>&1 && ipt=iptables-legacy
"$ipt-restore" -w --noflush
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

/** Every value checked, so that none can be read as more than one word of a rule. */
function checkLinkRules(o: LinkRules): void {
  if (!/^[\d.]+$/.test(o.gateway)) throw new Error(`applyLinkRules: bad gateway ${o.gateway}`);
  if (!/^[\w.-]{1,15}$/.test(o.device)) throw new Error(`applyLinkRules: bad device ${o.device}`);
  const bad = o.redirects.find((r) => !isPort(r.port) || !isPort(r.to) || (r.proto !== 'tcp' && r.proto !== 'udp'));
  if (bad) throw new Error(`applyLinkRules: bad redirect ${JSON.stringify(bad)}`);
  if (o.outboundPort !== undefined && !isPort(o.outboundPort)) throw new Error(`applyLinkRules: bad outbound port ${o.outboundPort}`);
}

/** `xtablesLock`: the lock every writer of the engine's rules takes (common/engine-iptables.ts), as the host reaches it (the agent's start makes its directory). */
export async function applyLinkRules(netns: string, o: LinkRules, xtablesLock: string): Promise<void> {
  const restore = linkRulesRestore(o);
  const r = await execa('nsenter', [`--net=${netns}`, 'sh', '-c', SCRIPT, 'berth-link-rules', o.gateway, o.device], { reject: false, input: restore, env: { XTABLES_LOCKFILE: xtablesLock } });
  if (r.exitCode !== 0) throw new Error(`could not set up the engine link's rules in the engine namespace: ${r.stderr || r.stdout || `exit ${r.exitCode}`}`);
}
