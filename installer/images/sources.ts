import type { BinarySource } from './collect.js';

/** Where the images' binaries come from: by default the machine's Debian packages. */
export interface ImageSources {
  busybox: BinarySource;
  /** The Node runtime the Berth agents run on inside the distros. */
  node: BinarySource;
  iptables: BinarySource[];
  /** The version pack: the engine and its tools, by their names in the pack. */
  versionPack: BinarySource[];
}

export function defaultSources(): ImageSources {
  return {
    busybox: { name: 'busybox (static)', path: '/bin/busybox', debianPackage: 'busybox-static' },
    node: { name: 'node', path: process.env.BERTH_NODE ?? process.execPath, debianPackage: 'nodejs' },
    iptables: [
      { name: 'xtables-nft-multi', path: 'xtables-nft-multi', debianPackage: 'iptables' },
      { name: 'xtables-legacy-multi', path: 'xtables-legacy-multi', debianPackage: 'iptables' },
    ],
    versionPack: [
      { name: 'dockerd', path: 'dockerd', debianPackage: 'docker.io' },
      { name: 'docker-proxy', path: 'docker-proxy', debianPackage: 'docker.io' },
      { name: 'docker', path: '/usr/bin/docker', debianPackage: 'docker.io' },
      { name: 'containerd', path: 'containerd', debianPackage: 'containerd' },
      { name: 'containerd-shim-runc-v2', path: 'containerd-shim-runc-v2', debianPackage: 'containerd' },
      { name: 'ctr', path: 'ctr', debianPackage: 'containerd' },
      { name: 'runc', path: 'runc', debianPackage: 'runc' },
      { name: 'docker-init', path: 'docker-init', debianPackage: 'tini' },
    ],
  };
}
