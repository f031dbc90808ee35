import { join } from 'node:path';
import { DAEMON_NODE_FLAGS } from '../../common/node-flags.js';
import { mountPoints } from '../../common/mountinfo.js';
import { SHARED_AREA } from '../../common/shared-area.js';
import { paths } from './paths.js';

/** The start's options that reach the supervisor. */
export interface LaunchOptions {
  data: string;
  config?: string | undefined;
  'log-lines': string;
  'log-line-bytes': string;
  'log-file-bytes': string;
  'log-files': string;
}

/** berth-engine-init's arguments: the root's parts, the plan, the cgroups, the drives, then the supervisor's command. */
export async function engineInitArgv(values: LaunchOptions, o: { lower: string[]; cgroupName: string; autoPause: number; cgroupDirs: string[]; plan: string }): Promise<string[]> {
  const superviseArgs = [
    'supervise',
    '--data',
    values.data,
    ...(values.config ? ['--config', values.config] : []),
    '--log-lines',
    values['log-lines'],
    '--log-line-bytes',
    values['log-line-bytes'],
    '--log-file-bytes',
    values['log-file-bytes'],
    '--log-files',
    values['log-files'],
    '--auto-pause',
    String(o.autoPause),
    '--cgroup',
    o.cgroupName,
  ];
  const drives = (await mountPoints()).filter((m) => /^\/mnt\/[a-z]$/.test(m));
  return [
    '--root',
    paths.root,
    '--rw',
    paths.rootRw,
    '--lower',
    o.lower.join(':'),
    '--data',
    values.data,
    '--shared',
    SHARED_AREA,
    '--plan',
    o.plan,
    ...o.cgroupDirs.flatMap((d) => ['--cgroup-procs', join(d, 'cgroup.procs')]),
    ...drives.flatMap((d) => ['--drive', d]),
    '--',
    paths.node,
    ...DAEMON_NODE_FLAGS,
    paths.agentBundle,
    ...superviseArgs,
  ];
}
