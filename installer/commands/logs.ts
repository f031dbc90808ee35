import { DATA_STORE_ROOT } from '../../common/shared-area.js';
import { BerthLogs, sourceFilter } from '../log-lines.js';
import { EXIT, type CliContext } from './context.js';

export interface LogsOptions {
  /** Print what there is, then new lines. */
  follow: boolean;
  /** Print only new lines. */
  followOnly: boolean;
}

/** `berth logs [-f|-F] [SOURCE…]`: the engine's lines merged by time with the manager's, as `time,source;msg`. */
export async function logs(ctx: CliContext, sources: string[], o: LogsOptions): Promise<number> {
  const berthLogs = new BerthLogs(ctx.home, await ctx.wsl(), sourceFilter(sources));
  const notRunning = () => ctx.warn(`berth: the engine is not running; only the manager's log is shown (the engine's persisted logs are in berth-data under ${DATA_STORE_ROOT}/log).\n`);
  if (!o.follow && !o.followOnly) {
    const { lines, engineRunning } = await berthLogs.dump();
    if (!engineRunning) notRunning();
    for (const l of lines) ctx.say(l);
    return EXIT.ok;
  }
  const { engineRunning } = await berthLogs.follow((l) => ctx.say(l), { existing: !o.followOnly });
  if (!engineRunning) notRunning();
  return new Promise(() => {});
}
