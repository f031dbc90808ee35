import { parseArgs } from 'node:util';
import { settleAsDaemon } from '../../../common/settle-daemon.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'engine-init-fds': { type: 'string' },
      data: { type: 'string' },
      config: { type: 'string' },
      'stop-deadline': { type: 'string', default: '10' },
      'log-lines': { type: 'string', default: '5000' },
      'log-line-bytes': { type: 'string', default: '1024' },
      'log-file-bytes': { type: 'string', default: String(1024 * 1024) },
      'log-files': { type: 'string', default: '4' },
      'auto-pause': { type: 'string', default: '0' },
      cgroup: { type: 'string' },
    },
  });
  const initFds = (values['engine-init-fds'] ?? '').split(',').map(Number);
  if (!values.data || initFds.length < 1 || !initFds.every((fd) => Number.isInteger(fd) && fd > 2)) {
    process.stderr.write('berth-agent supervise: --data and --engine-init-fds are required (berth-agent start runs it through berth-engine-init).\n');
    return 2;
  }
  const { supervise } = await import('../supervisor.js');
  settleAsDaemon();
  return supervise({
    initFds,
    dataStore: values.data,
    configFile: values.config,
    stopDeadlineMs: Number(values['stop-deadline']) * 1000,
    autoPauseSeconds: Number(values['auto-pause']),
    cgroup: values.cgroup,
    logs: {
      ringLines: Number(values['log-lines']),
      lineBytes: Number(values['log-line-bytes']),
      fileBytes: Number(values['log-file-bytes']),
      files: Number(values['log-files']),
    },
  });
}
