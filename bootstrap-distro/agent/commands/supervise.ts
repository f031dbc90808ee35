import { parseArgs } from 'node:util';
import { collectGarbageWhenIdle } from '../../../common/idle-gc.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      lower: { type: 'string' },
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
  if (!values.lower || !values.data) {
    process.stderr.write('berth-agent supervise: --lower and --data are required (run `berth-agent start`).\n');
    return 2;
  }
  const { supervise } = await import('../supervisor.js');
  collectGarbageWhenIdle();
  return supervise({
    lower: values.lower.split(':'),
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
