import * as z from '../../common/zod.js';

/**
 * daemon.json as Berth's Docker Engine page accepts it: the options of dockerd's
 * configuration file that make sense in Berth, each with its type. Options Berth sets itself
 * (sockets, paths, the group, TLS, CORS) are refused with the reason, as are keys dockerd
 * does not know (dockerd would refuse to start on them).
 */
const strings = z.array(z.string());
const options = {
  debug: z.boolean(),
  experimental: z.boolean(),
  'live-restore': z.boolean(),
  icc: z.boolean(),
  ipv6: z.boolean(),
  ip6tables: z.boolean(),
  iptables: z.boolean(),
  'ip-forward': z.boolean(),
  'ip-masq': z.boolean(),
  'userland-proxy': z.boolean(),
  init: z.boolean(),
  'raw-logs': z.boolean(),
  'no-new-privileges': z.boolean(),
  'log-level': z.enum(['debug', 'info', 'warn', 'error', 'fatal']),
  'log-driver': z.string().min(1),
  'log-opts': z.record(z.string(), z.string()),
  'storage-driver': z.string().min(1),
  'storage-opts': strings,
  'default-runtime': z.string().min(1),
  runtimes: z.record(z.string(), z.object({ path: z.string(), runtimeArgs: strings.optional() }).strict()),
  'default-shm-size': z.string().regex(/^\d+[bkmg]?$/i, 'a size like 64M'),
  'default-ulimits': z.record(z.string(), z.object({ Name: z.string(), Hard: z.number().int(), Soft: z.number().int() }).strict()),
  'default-cgroupns-mode': z.enum(['host', 'private']),
  'default-ipc-mode': z.enum(['shareable', 'private']),
  'cgroup-parent': z.string(),
  mtu: z.number().int().min(68).max(65535),
  bip: z.string().regex(/^[\d.]+\/\d+$/, 'an address with its prefix, like 172.26.0.1/16'),
  'fixed-cidr': z.string(),
  'fixed-cidr-v6': z.string(),
  'default-gateway': z.string(),
  'default-gateway-v6': z.string(),
  ip: z.string(),
  'default-address-pools': z.array(z.object({ base: z.string(), size: z.number().int().min(1).max(128) }).strict()),
  dns: strings,
  'dns-opts': strings,
  'dns-search': strings,
  'exec-opts': strings,
  labels: strings,
  'insecure-registries': strings,
  'registry-mirrors': z.array(z.string().url('a URL like https://mirror.example.com')),
  'allow-nondistributable-artifacts': strings,
  'max-concurrent-downloads': z.number().int().min(1),
  'max-concurrent-uploads': z.number().int().min(1),
  'max-download-attempts': z.number().int().min(1),
  'shutdown-timeout': z.number().int().min(0),
  'oom-score-adjust': z.number().int().min(-1000).max(1000),
  'userns-remap': z.string(),
  features: z.record(z.string(), z.boolean()),
  builder: z.object({ gc: z.object({ enabled: z.boolean().optional(), defaultKeepStorage: z.string().optional() }).passthrough().optional() }).passthrough(),
} as const;

/** Set by Berth on dockerd's command line or by its design: refused, with why. */
export const MANAGED_BY_BERTH: Record<string, string> = {
  hosts: 'Berth publishes the daemon on its own sockets',
  'data-root': 'the data lives in berth-data, at /var/lib/docker',
  'exec-root': 'Berth sets it',
  pidfile: 'Berth sets it',
  containerd: 'Berth runs its own containerd',
  group: "the sockets' group is set by Berth",
  'host-gateway-ip': "host.docker.internal is the engine link's gateway",
  tls: "the daemon is reached through Berth's sockets, not TCP",
  tlsverify: "the daemon is reached through Berth's sockets, not TCP",
  tlscacert: "the daemon is reached through Berth's sockets, not TCP",
  tlscert: "the daemon is reached through Berth's sockets, not TCP",
  tlskey: "the daemon is reached through Berth's sockets, not TCP",
  'api-cors-header': 'CORS on the Docker API would let web pages drive the engine',
  'authorization-plugins': 'plugins are not supported in Berth',
};

/** The options dockerd re-reads on SIGHUP: changing only these needs no restart. */
export const RELOADABLE = new Set([
  'debug',
  'log-level',
  'labels',
  'live-restore',
  'max-concurrent-downloads',
  'max-concurrent-uploads',
  'max-download-attempts',
  'shutdown-timeout',
  'insecure-registries',
  'registry-mirrors',
  'default-runtime',
  'runtimes',
  'features',
  'builder',
]);

const schema = z.object(options).partial().strict();
export type EngineConfig = z.infer<typeof schema>;

export interface ConfigIssue {
  path: string;
  message: string;
}

/** Checks a daemon.json text: every problem at once, or the config. */
export function checkEngineConfig(text: string): { config: EngineConfig } | { issues: ConfigIssue[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text.trim() === '' ? '{}' : text);
  } catch (e) {
    return { issues: [{ path: '(file)', message: `not valid JSON: ${(e as Error).message}` }] };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { issues: [{ path: '(file)', message: 'daemon.json must be one JSON object, { … }' }] };
  const issues: ConfigIssue[] = [];
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (MANAGED_BY_BERTH[key]) issues.push({ path: key, message: `set by Berth (${MANAGED_BY_BERTH[key]}); remove it` });
    else if (!(key in options)) issues.push({ path: key, message: 'not a daemon.json option dockerd knows (or one Berth supports); see https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file' });
    else rest[key] = value;
  }
  const r = schema.safeParse(rest);
  if (!r.success) for (const i of r.error.issues) issues.push({ path: i.path.join('.') || '(file)', message: i.message });
  return issues.length ? { issues } : { config: r.success ? r.data : {} };
}

/** What a change needs: nothing, a reload (SIGHUP), or a restart of the engine. */
export function changeNeeds(before: EngineConfig, after: EngineConfig): 'nothing' | 'reload' | 'restart' {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [...keys].filter((k) => JSON.stringify((before as Record<string, unknown>)[k]) !== JSON.stringify((after as Record<string, unknown>)[k]));
  if (changed.length === 0) return 'nothing';
  return changed.every((k) => RELOADABLE.has(k)) ? 'reload' : 'restart';
}
