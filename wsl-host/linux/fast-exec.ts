import { mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file.js';
import type { Drive } from '../../common/drives.js';
import type { ProcessIdentity } from '../../common/process.js';
import type { SessionPlan } from './session.js';
import { removeTree } from '../../common/remove-tree.js';

/**
 * The exec record: what the native berth-wsl entry (wsl-host/native/wsl-entry.c) needs to
 * run `[-d NAME] [-u USER] --exec ARGV` into a running distro without starting Node. This
 * side writes it after planning such a session; the native side uses it only while the
 * init, the NAT helper, the distro's passwd/group/wsl.conf and BERTH_WSL_DRIVES are the
 * ones it was written for. The field order is the C file's; change both together: the
 * round trip (this side writes a record, berth-init attaches from it, and the output must
 * equal the full path's, with berth-init as the process) is test/integration/wsl-host.test.ts
 * "runs --exec into a running distro without Node".
 */
export const FAST_EXEC_VERSION = 'berth-fast-exec 1';

export interface FastExecRequest {
  distro?: string;
  user?: string;
}

/** Distro and user names the native side accepts in a record's file name. */
const PLAIN_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** The record's file under run/fast-exec/, or undefined when the request cannot have one. */
export function fastExecFile(fastExecDir: string, req: FastExecRequest): string | undefined {
  for (const name of [req.distro, req.user]) if (name !== undefined && !PLAIN_NAME.test(name)) return undefined;
  return join(fastExecDir, `${req.distro ?? '~'}@${req.user ?? '~'}`);
}

export interface FastExecFacts {
  init: ProcessIdentity;
  /** The VM's NAT helper, for a WSL 2 distro: a dead one must be restarted by the Node side. */
  nat: ProcessIdentity | undefined;
  attachLock: string;
  plan: SessionPlan;
  /** Identities of PLAN_FILES, taken before they were read for the plan. */
  fileIdentities: string[];
  drivesEnv: string | undefined;
  drives: Drive[];
  automountRoot: string;
}

/** The record's bytes: NUL-terminated fields. */
export function encodeFastExec(f: FastExecFacts): string {
  const { TERM: _callerTerm, ...env } = f.plan.env;
  const fields = [
    FAST_EXEC_VERSION,
    String(f.init.pid),
    f.init.startTime,
    String(f.nat?.pid ?? 0),
    f.nat?.startTime ?? '0',
    f.attachLock,
    String(f.plan.user.uid),
    String(f.plan.user.gid),
    f.plan.user.groups.join(','),
    f.plan.user.home,
    f.drivesEnv === undefined ? '' : `=${f.drivesEnv}`,
    ...f.fileIdentities,
    String(f.drives.length),
    // Compared with the caller's cwd as common/drives' hostPathToDistro compares it.
    ...f.drives.flatMap((d) => [d.hostPath, posix.join(f.automountRoot, d.letter)]),
    String(Object.keys(env).length),
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
  ];
  if (fields.some((x) => x.includes('\0'))) throw new Error('a NUL in an exec record field');
  return fields.map((x) => `${x}\0`).join('');
}

/** Written atomically, root-only (it decides which user a command runs as). */
export async function writeFastExec(file: string, facts: FastExecFacts): Promise<void> {
  await mkdir(posix.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, encodeFastExec(facts), 0o600);
}

/** Every record goes when the registry changes (a new default, a distro gone or renamed). */
export async function dropFastExecRecords(fastExecDir: string): Promise<void> {
  await removeTree(fastExecDir);
}
