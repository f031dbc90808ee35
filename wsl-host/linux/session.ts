import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Drive } from '../../common/drives.js';
import { hostPathToDistro, windowsPathToDistro } from '../../common/drives.js';
import { resolveUser, type DistroUser } from '../../common/passwd.js';
import { parseWslConf, DEFAULT_WSL_CONF, type WslConf } from '../../common/wsl-conf.js';

/** How the command line asked to run something: --exec argv, a shell command line, or a login shell. */
export type RunMode = { kind: 'exec'; argv: string[] } | { kind: 'shell'; command: string } | { kind: 'login' };

export interface SessionRequest {
  distroName: string;
  user?: string;
  cwd?: string;
  mode: RunMode;
}

/** Everything the helper needs to start the process: resolved, so it only makes syscalls. */
export interface SessionPlan {
  user: DistroUser;
  cwd: string;
  argv: string[];
  env: Record<string, string>;
}

export class SessionError extends Error {}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The distro's files a plan depends on, relative to its root. */
export const PLAN_FILES = ['etc/passwd', 'etc/group', 'etc/wsl.conf'] as const;

/** Reads what the plan depends on from the running distro's own root (as /proc/PID/root). */
export async function readDistroFiles(distroRoot: string) {
  const read = (p: string) => readFile(posix.join(distroRoot, p), 'utf8').catch(() => '');
  const [passwd = '', group = '', wslConf = ''] = await Promise.all(PLAN_FILES.map(read));
  return { passwd, group, conf: wslConf ? parseWslConf(wslConf) : DEFAULT_WSL_CONF };
}

export function planSession(req: SessionRequest, files: { passwd: string; group: string; conf: WslConf }, host: { cwd: string; env: NodeJS.ProcessEnv; drives: Drive[] }): SessionPlan {
  const userName = req.user ?? files.conf.user.default ?? 'root';
  const user = resolveUser(userName, files.passwd, files.group);
  if (!user) throw new SessionError(`User not found: ${userName} is not in ${req.distroName}'s /etc/passwd.`);
  const root = files.conf.automount.root;
  const cwd = resolveCwd(req.cwd, user, host, root);
  const env = sessionEnv(req.distroName, user, host.env, host.drives, root);
  let argv: string[];
  if (req.mode.kind === 'exec') argv = req.mode.argv;
  else if (req.mode.kind === 'shell') argv = [user.shell, '-c', req.mode.command];
  else argv = [user.shell, '-l'];
  return { user, cwd, argv, env };
}

function resolveCwd(requested: string | undefined, user: DistroUser, host: { cwd: string; drives: Drive[] }, automountRoot: string): string {
  if (requested === undefined) {
    // As wsl.exe starts in the translated Windows directory, start in the drive path of the host's cwd.
    return hostPathToDistro(host.cwd, host.drives, automountRoot) ?? user.home;
  }
  if (requested === '~') return user.home;
  if (requested.startsWith('~/')) return posix.join(user.home, requested.slice(2));
  if (requested.startsWith('/')) return requested;
  const fromWindows = windowsPathToDistro(requested, automountRoot);
  if (fromWindows) return fromWindows;
  throw new SessionError(`--cd needs an absolute path, ~ or a drive path like C:\\dir, not "${requested}".`);
}

/**
 * The environment WSL gives a process, plus the variables WSLENV names from the caller's
 * environment (flag /p translates a path, /l a list of paths, /w means Linux-to-Windows only).
 */
export function sessionEnv(distroName: string, user: DistroUser, hostEnv: NodeJS.ProcessEnv, drives: Drive[], automountRoot: string): Record<string, string> {
  const env: Record<string, string> = {
    HOSTTYPE: process.arch === 'arm64' ? 'aarch64' : 'x86_64',
    LANG: 'C.UTF-8',
    PATH: DEFAULT_PATH,
    TERM: hostEnv.TERM || 'xterm-256color',
    WSL_DISTRO_NAME: distroName,
    NAME: distroName,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    SHELL: user.shell,
  };
  const wslenv = hostEnv.WSLENV ?? '';
  if (wslenv) env.WSLENV = wslenv;
  const translate = (p: string) => hostPathToDistro(p, drives, automountRoot) ?? windowsPathToDistro(p, automountRoot) ?? p;
  for (const entry of wslenv.split(':').filter(Boolean)) {
    const [name, flags = ''] = entry.split('/') as [string, string?];
    const value = hostEnv[name];
    if (value === undefined || flags.includes('w')) continue;
    if (flags.includes('p')) env[name] = translate(value);
    else if (flags.includes('l')) env[name] = value.split(/[;:]/).filter(Boolean).map(translate).join(':');
    else env[name] = value;
  }
  return env;
}
