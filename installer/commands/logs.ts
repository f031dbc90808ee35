import { watch } from 'node:fs';
import { join } from 'node:path';
import { FileTail } from '../../common/file-tail.js';
import { DATA_STORE_ROOT, sharedPath } from '../../common/shared-area.js';
import { formatLine, readLogs } from '../../bootstrap-distro/logd/client.js';
import { BERTH_DISTRO } from '../distros.js';
import { EXIT, type CliContext } from './context.js';

export interface LogsOptions {
  /** Print what there is, then new lines. */
  follow: boolean;
  /** Print only new lines. */
  followOnly: boolean;
}

/**
 * `berth logs [-f|-F] [SOURCE…]`: the log daemon's lines (the engine's services, onboot
 * actions, the agent) merged by time with the manager's own, as `time,source;msg`.
 */
export async function logs(ctx: CliContext, sources: string[], o: LogsOptions): Promise<number> {
  const sourceOf = (line: string) => line.slice(line.indexOf(',') + 1, line.indexOf(';'));
  const wanted = (line: string) => sources.length === 0 || sources.includes(sourceOf(line)) || sources.includes(sourceOf(line).replace(/\.out$/, ''));
  const print = (line: string) => wanted(line) && ctx.say(line);
  const manager = new FileTail(join(ctx.home.logsDir, 'berth.log'));
  const daemon = await ctx.wsl.connect(BERTH_DISTRO, sharedPath('logSocket')).catch(() => undefined);
  if (!daemon) ctx.warn(`berth: the engine is not running; only the manager's log is shown (the engine's persisted logs are in berth-data under ${DATA_STORE_ROOT}/log).\n`);
  const existing = await manager.read();
  if (!o.follow && !o.followOnly) {
    if (daemon) await readLogs(daemon, 'dump', [], (e) => existing.push(formatLine(e)));
    // By time only (a stable sort keeps each source's own order within one instant).
    const at = (line: string) => Date.parse(line.slice(0, line.indexOf(','))) || 0;
    for (const l of existing.sort((a, b) => at(a) - at(b))) print(l);
    return EXIT.ok;
  }
  if (!o.followOnly) existing.forEach(print);
  if (daemon) void readLogs(daemon, o.followOnly ? 'follow' : 'dumpAndFollow', [], (e) => print(formatLine(e))).catch((e: Error) => ctx.warn(`berth: the engine's log stream ended: ${e.message}\n`));
  watch(ctx.home.logsDir, () => void manager.read().then((lines) => lines.forEach(print)));
  return new Promise(() => {});
}
