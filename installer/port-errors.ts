import type { PortRequest } from '../common/port-forward/claim-messages.js';

const shown = (r: PortRequest) => (r.proto === 'udp' ? `${r.port}/udp` : `${r.port}`);

/**
 * Why a published port could not be bound, said so that the user knows what to do.
 * `side` is where: the host's loopback, or the WSL network namespace the distros share.
 */
export function bindFailureMessage(r: PortRequest, side: 'host' | 'wsl', code: string | undefined, detail: string): string {
  const where = side === 'host' ? `on the host (${r.host}:${r.port})` : `in WSL (${r.host}:${r.port} in the distros' network)`;
  switch (code) {
    case 'EADDRINUSE':
      return `Berth: port ${shown(r)} is already in use ${where}; stop what uses it, or publish another host port (-p OTHER:…)`;
    case 'EACCES':
      return `Berth: not allowed to bind port ${shown(r)} ${where}: ports below 1024 are privileged; run Berth as root, lower net.ipv4.ip_unprivileged_port_start, or publish a port from 1024 up`;
    case 'EADDRNOTAVAIL':
      return `Berth: cannot bind ${r.host}:${r.port} ${side === 'host' ? 'on the host' : 'in WSL'}: the address does not exist there (is IPv6 disabled?); publish on another address`;
    default:
      return `Berth: cannot bind ${r.host}:${r.port}/${r.proto} ${side === 'host' ? 'on the host' : 'in WSL'}: ${detail}`;
  }
}
