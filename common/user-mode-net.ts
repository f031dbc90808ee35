import { findProgram, searchDirs } from './find-program.js';

/**
 * User-mode network links, from Debian's programs: a tap device in a network namespace
 * whose traffic a host process turns into ordinary sockets of its own namespace. Nothing of
 * the host's network setup (routes, rules, sysctls, interfaces) changes, and connections
 * follow the host's routes, VPN and firewall. Traffic to the gateway address reaches the
 * host's loopback, on any port.
 *   pasta (package passt): WSL's NAT for the VM namespace (vm-nat.ts).
 *   slirp4netns: the engine link (installer/network/slirp-link.ts). Measured here, with
 *   dockerd's NATed containers behind it, pasta 2023-03 moved 256 MiB up in 5.6-10 s (its
 *   window updates lack the ACK flag, which conntrack calls INVALID) against 0.8 s.
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
export async function findHelper(program: 'pasta' | 'slirp4netns', dirs = searchDirs()): Promise<string> {
  const found = await findProgram(program, dirs);
  if (found) return found;
  const pkg = program === 'pasta' ? 'passt' : program;
  throw new Error(`the user-mode network link needs \`${program}\`, which is not installed; install Debian's \`${pkg}\` package (apt-get install ${pkg}).`);
}

export interface PastaOptions extends LinkAddresses {
  /** The target network namespace, as an nsfs path. */
  netns: string;
  /** DNS queries sent to this address go to the host's own nameservers (pasta's --dns-forward). */
  dnsForward?: string;
  pidFile?: string;
}

/**
 * pasta's argv (it goes to the background once the link is configured). No port forwarding
 * either way (`none`): published ports are Berth's own job, and pasta's default (`auto`)
 * would quietly expose every port bound in the namespace. `--runas 0`: as root pasta would
 * otherwise drop to nobody and lose access to the nsfs path. `-4`: IPv4 only, as WSL 2's
 * NAT is (it gives the VM no IPv6 way out); pasta's IPv6 buffers cost 9.6 of its 29 MiB.
 */
export function pastaArgs(o: PastaOptions): string[] {
  return [
    '--runas',
    '0',
    '--quiet',
    '-4',
    '--config-net',
    '--netns',
    o.netns,
    '-I',
    LINK_DEVICE,
    '-m',
    String(LINK_MTU),
    '-a',
    o.address,
    '-n',
    String(o.prefixLength),
    '-g',
    o.gateway,
    ...(o.dnsForward ? ['--dns-forward', o.dnsForward] : []),
    '-t',
    'none',
    '-u',
    'none',
    '-T',
    'none',
    '-U',
    'none',
    ...(o.pidFile ? ['--pid', o.pidFile] : []),
  ];
}

/** slirp4netns puts the namespace at .100 of its /24 and the gateway at .2. */
export function slirpAddresses(network: string): LinkAddresses {
  const base = network.split('.').slice(0, 3).join('.');
  return { address: `${base}.100`, prefixLength: 24, gateway: `${base}.2` };
}

/**
 * slirp4netns's argv (it stays in the foreground). Its own DNS (the .3 address) is off:
 * Berth DNS answers at the gateway instead.
 */
export function slirpArgs(o: { netns: string; network: string }): string[] {
  return ['--configure', `--mtu=${LINK_MTU}`, '--disable-dns', '--netns-type=path', `--cidr=${o.network}/24`, o.netns, LINK_DEVICE];
}
