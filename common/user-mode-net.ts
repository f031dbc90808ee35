import { findProgram, searchDirs } from './find-program.js';

/**
 * User-mode network links, from Debian's programs: a tap device in a network namespace
 * whose traffic a host process turns into ordinary sockets of its own namespace. Nothing of
 * the host's network setup (routes, rules, sysctls, interfaces) changes, and connections
 * follow the host's routes, VPN and firewall. Traffic to the gateway address reaches the
 * host's loopback, on any port.
 *   slirp4netns: WSL's NAT for the VM namespace (wsl-host/linux/vm-nat.ts) and the engine
 *   link (installer/network/slirp-link.ts), both started by slirp.ts.
 *   pasta (package passt): only the bench's peer now. Measured here, with dockerd's NATed
 *   containers behind it, pasta 2023-03 moved 256 MiB up in 5.6-10 s (its window updates
 *   lack the ACK flag, which conntrack calls INVALID) against 0.8 s; as WSL's NAT it held
 *   19 MiB PSS at rest against slirp4netns's ~1.5.
 */
export interface LinkAddresses {
  /** The namespace's address on the link. */
  address: string;
  prefixLength: number;
  /** The namespace's default gateway: the helper maps it to the host's loopback. */
  gateway: string;
}

/** The interface the link makes in the target namespace. */
export const LINK_DEVICE = 'eth0';
/** The largest frames both helpers take: fewer, bigger packets through a user-mode stack. */
export const LINK_MTU = 65520;

/** Where a helper program is, or an error that names the Debian package to install. */
export async function findHelper(program: 'slirp4netns', dirs = searchDirs()): Promise<string> {
  const found = await findProgram(program, dirs);
  if (found) return found;
  throw new Error(`the user-mode network link needs \`${program}\`, which is not installed; install Debian's \`${program}\` package (apt-get install ${program}).`);
}

/**
 * A slirp4netns link: the network's .100 for the namespace and .2 for the gateway (the
 * host), fixed by slirp4netns whatever the prefix; .3 is its own DNS when that is on.
 */
export interface SlirpNetwork {
  /** The network's own address (x.y.z.0). */
  network: string;
  prefixLength: number;
}

export function slirpAddresses(o: SlirpNetwork): LinkAddresses & { nameserver: string } {
  const base = o.network.split('.').slice(0, 3).join('.');
  return { address: `${base}.100`, prefixLength: o.prefixLength, gateway: `${base}.2`, nameserver: `${base}.3` };
}

export interface SlirpOptions extends SlirpNetwork {
  /** The target network namespace, as an nsfs path. */
  netns: string;
  /** slirp4netns's own DNS at .3, which forwards to the host's nameservers; off where Berth DNS answers instead. */
  dns: boolean;
  /** The fd slirp4netns writes "1" to once the link is configured. */
  readyFd?: number;
}

/**
 * slirp4netns's argv (it stays in the foreground). IPv4 only (its IPv6 is off unless asked
 * for), and no port forwarding of its own: published ports are Berth's job.
 */
export function slirpArgs(o: SlirpOptions): string[] {
  return [
    '--configure',
    `--mtu=${LINK_MTU}`,
    ...(o.dns ? [] : ['--disable-dns']),
    ...(o.readyFd === undefined ? [] : [`--ready-fd=${o.readyFd}`]),
    '--netns-type=path',
    `--cidr=${o.network}/${o.prefixLength}`,
    o.netns,
    LINK_DEVICE,
  ];
}
