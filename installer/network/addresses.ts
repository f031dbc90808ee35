import { slirpAddresses, type LinkAddresses, type SlirpNetwork } from '../../common/user-mode-net.js';

/**
 * The engine link's addresses, inside the engine's network namespace. The gateway stands
 * for the host: connections to it reach the host's loopback (the "Windows localhost"), and
 * Berth DNS answers there. bootstrap-distro/linuxkit/berth.yml names the gateway too
 * (resolv.conf, --host-gateway-ip); a unit test keeps the two in step.
 */
export const ENGINE_NETWORK: SlirpNetwork = { network: '192.168.65.0', prefixLength: 24 };
export const ENGINE_LINK: LinkAddresses = slirpAddresses(ENGINE_NETWORK);

/** Names Berth DNS answers itself, with the address that reaches the host. */
export const DOCKER_INTERNAL_NAMES: ReadonlyMap<string, string> = new Map([
  ['host.docker.internal', ENGINE_LINK.gateway],
  ['gateway.docker.internal', ENGINE_LINK.gateway],
  // The internal HTTP proxy (port 3128 for the engine, 3129 for containers).
  ['http.docker.internal', ENGINE_LINK.gateway],
]);
