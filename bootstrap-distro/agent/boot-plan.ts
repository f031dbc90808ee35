import { envObject, type LinuxkitConfig, type LinuxkitEntry } from './linuxkit.js';

/** Every onboot action's and service's environment starts from this; the entry's env goes over it. */
export const BASE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };

/** The environment an entry runs with. */
export function entryEnv(entry: LinuxkitEntry): Record<string, string> {
  return { ...BASE_ENV, ...envObject(entry.env) };
}

/**
 * The boot plan berth-engine-init runs before the supervisor is up (the layout is in
 * bootstrap-distro/engine-init/boot-plan.h): the config's onboot actions, then its services,
 * each with the environment and working directory the supervisor would give it. Compiled
 * into the system image from its LinuxKit YAML, and by `start --config` from the one given.
 */
export function encodeBootPlan(config: LinuxkitConfig): Buffer {
  const tokens = ['berth-boot-plan-1'];
  const entries = [...config.onboot.map((e) => ['onboot', e] as const), ...config.services.map((e) => ['service', e] as const)];
  for (const [kind, entry] of entries) {
    const env = Object.entries(entryEnv(entry)).map(([k, v]) => `${k}=${v}`);
    tokens.push(kind, entry.name, entry.cwd ?? '/', String(env.length), ...env, String(entry.command.length), ...entry.command);
  }
  tokens.push('end');
  if (tokens.some((t) => t.includes('\0'))) throw new Error('a command, environment or working directory of the LinuxKit config holds a NUL byte');
  return Buffer.from(tokens.map((t) => `${t}\0`).join(''));
}
