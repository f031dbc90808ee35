/**
 * Where Berth's pieces meet: the shared area (/mnt/wsl, one tmpfs seen by every distro and
 * by the engine) and the two fixed places inside Berth's own distros. Each path is defined
 * here once; a distro whose wsl.conf moves its automount root sees the shared area at
 * <root>wsl instead, hence sharedPath's second argument.
 */
export const SHARED_AREA = '/mnt/wsl';

/** What Berth publishes in the shared area, relative to it. */
export const IN_SHARED_AREA = {
  dir: 'berth',
  /** The daemon's socket, published by dockerd itself. */
  dockerSocket: 'berth/docker.sock',
  /** The agent's control socket (GET /status, POST /stop). */
  agentSocket: 'berth/agent.sock',
  /** The log daemon's query socket. */
  logSocket: 'berth/log.sock',
  /** The engine's port forwarder for TCP, native (the stand-in for hypervisor sockets). */
  forwardSocket: 'berth/forward.sock',
  /** The engine's port forwarder for UDP (framed datagrams). */
  forwardUdpSocket: 'berth/forward-udp.sock',
  /** The manager's claim socket: a distro's proxy asks it to bind ports before a start. */
  portsSocket: 'berth/ports.sock',
  /** The manager's credentials socket: a distro's proxy hands on docker-credential-berth's requests. */
  credentialsSocket: 'berth/credentials.sock',
  /** The engine's network namespace, for the engine link. */
  engineNetns: 'berth/engine.netns',
  /** The containers' proxy variables, rewritten by the manager. */
  containersProxy: 'berth/containers-proxy.json',
  /** Berth's tools for user distros (the berth distro's /opt/berth, read-only). */
  tools: 'berth/tools',
  /** The version pack (the docker CLI) for the tools' docker wrapper. */
  versionPack: 'berth/version-pack',
  /** The user distros' bind mounts, one folder per distro. */
  bindMounts: 'berth/bind-mounts',
  /** berth-data's store, bind-mounted here for the engine. */
  dataStore: 'berth/data',
} as const;

export type SharedName = keyof typeof IN_SHARED_AREA;

export function sharedPath(name: SharedName, sharedArea: string = SHARED_AREA): string {
  return `${sharedArea}/${IN_SHARED_AREA[name]}`;
}

/** The agent's command inside the berth distro. */
export const AGENT_COMMAND = '/opt/berth/bin/berth-agent';
/** berth-engine-init inside the berth distro (its `wait PID` is what the manager keeps attached). */
export const ENGINE_INIT_COMMAND = '/opt/berth/bin/berth-engine-init';

/** berth-data's store inside berth-data: docker's data, the persisted logs, Berth's own files. */
export const DATA_STORE_ROOT = '/srv/berth-data';
