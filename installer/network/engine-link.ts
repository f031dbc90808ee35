/**
 * The engine link: the engine namespace's way out (vpnkit's job in Docker Desktop). Its
 * connections are opened by a process on the host side, so they follow the host's routes,
 * VPN and firewall. On Linux: slirp4netns on the host attached to the engine's namespace
 * (slirp-link.ts). On Windows: gvproxy on the Windows side, its peer in the engine
 * namespace speaking over a `wsl.exe` process's stdio, as podman machine does (README).
 */
export interface EngineLink {
  /** Attaches to the engine's (current) namespace; replaces a link already attached. */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): EngineLinkStatus;
}

export interface EngineLinkStatus {
  state: 'down' | 'starting' | 'up' | 'restarting' | 'failed';
  /** The program that carries the link. */
  helper: string;
  pid?: number;
  /** The outbound relay that carries TCP beside the helper, where one does. */
  tcpRelayPid?: number;
  address: string;
  gateway: string;
  restarts: number;
  error?: string;
  log?: string;
}
