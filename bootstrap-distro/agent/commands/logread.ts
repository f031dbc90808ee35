import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { formatLine, readLogs } from '../../logd/client.js';
import { LOG_QUERY_PUBLISHED } from '../supervisor-paths.js';

/** logread: `-f` dump then follow, `-F` follow only; prints time,source;msg. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { f: { type: 'boolean' }, F: { type: 'boolean' } } });
  const socket = connect(LOG_QUERY_PUBLISHED);
  const ok = await new Promise<boolean>((r) => socket.once('connect', () => r(true)).once('error', () => r(false)));
  if (!ok) {
    process.stderr.write('berth-agent: the log daemon is not running (the engine is stopped); persisted logs are in the data store under log/.\n');
    return 3;
  }
  await readLogs(socket, values.F ? 'follow' : values.f ? 'dumpAndFollow' : 'dump', positionals, (e) => process.stdout.write(`${formatLine(e)}\n`));
  return 0;
}
