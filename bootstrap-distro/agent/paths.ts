import { ENGINE_INIT_COMMAND, IN_SHARED_AREA, SHARED_AREA, sharedPath } from '../../common/shared-area.js';

/** Fixed places inside the `berth` distro and the LinuxKit root. */
export const paths = {
  node: '/opt/berth/bin/berth-node',
  agentBundle: '/opt/berth/app/berth-agent.mjs',
  /** The published ports' native byte mover. */
  relay: '/opt/berth/bin/berth-relay',
  /** The engine namespaces' pid 1 (bootstrap-distro/engine-init/). */
  engineInit: ENGINE_INIT_COMMAND,
  imagesDir: '/opt/berth/images',
  /** Unpacked images, one directory per sha256, kept across restarts on the distro's disk. */
  imageCache: '/var/cache/berth/images',
  /** The distro's run dir (tmpfs): the supervisor's pid, the detached start's log. */
  runDir: '/run/berth',
  /** Inside the supervisor's mount namespace: the assembled root and its writable tmpfs. */
  root: '/run/berth/root',
  rootRw: '/run/berth/rw',
  /** Published in the shared area, so every distro (and the host) can reach them. */
  publishDir: `${SHARED_AREA}/${IN_SHARED_AREA.dir}`,
  controlSocket: sharedPath('agentSocket'),
  dockerSocket: sharedPath('dockerSocket'),
  /** The engine's network namespace (an nsfs bind mount), for the host side of the engine link. */
  engineNetns: sharedPath('engineNetns'),
  /** Where the manager mounts berth-data's store (a cross-distro mount). */
  defaultDataStore: sharedPath('dataStore'),
} as const;
