import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/**
 * A user-mode network link made by Debian's `pasta` (package passt): a tap device in a
 * network namespace whose traffic pasta turns into ordinary sockets of the namespace pasta
 * itself runs in. Nothing of the host's own network setup (routes, rules, sysctls,
 * interfaces) changes, and connections follow the host's routes, VPN and firewall.
 * Traffic to the gateway address reaches the host's loopback, on any port.
 */
export interface LinkAddresses {
  /** The namespace's address on the link, e.g. 192.168.65.3. */
  address: string;
  prefixLength: number;
  /** The namespace's default gateway: pasta maps it to the host's loopback. */
  gateway: string;
}

export const PASTA_PACKAGE = 'passt';
/** The interface pasta makes in the target namespace. */
export const LINK_DEVICE = 'eth0';

/** Where pasta is, or an error that names the Debian package to install. */
export async function findPasta(path = process.env.PATH ?? ''): Promise<string> {
  for (const dir of [...path.split(delimiter), '/usr/bin', '/usr/sbin']) {
    if (!dir) continue;
    const candidate = join(dir, 'pasta');
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new Error(`the user-mode network link needs \`pasta\`, which is not installed; install Debian's \`${PASTA_PACKAGE}\` package (apt-get install ${PASTA_PACKAGE}).`);
}

export interface PastaOptions extends LinkAddresses {
  /** The target network namespace, as an nsfs path. */
  netns: string;
  /** DNS queries sent to this address go to the host's own nameservers (pasta's --dns-forward). */
  dnsForward?: string;
  /** Stay in the foreground, so a supervisor can watch the process. */
  foreground?: boolean;
  pidFile?: string;
}

/**
 * pasta's argv. No port forwarding either way (`none`): published ports are Berth's own job,
 * and pasta's default (`auto`) would quietly expose every port bound in the namespace.
 * `--runas 0`: as root pasta would otherwise drop to nobody and lose access to the nsfs path.
 */
export function pastaArgs(o: PastaOptions): string[] {
  return [
    '--runas', '0', '--quiet',
    ...(o.foreground ? ['--foreground'] : []),
    '--config-net', '--netns', o.netns, '-I', LINK_DEVICE,
    '-a', o.address, '-n', String(o.prefixLength), '-g', o.gateway,
    ...(o.dnsForward ? ['--dns-forward', o.dnsForward] : []),
    '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none',
    ...(o.pidFile ? ['--pid', o.pidFile] : []),
  ];
}
