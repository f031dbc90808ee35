import { watch } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { FileTail } from './file-tail.js';
import { sharedPath } from '../common/shared-area.js';
import type { WslHost } from '../wsl-host/host.js';
import { formatLine, readLogs } from '../bootstrap-distro/logd/client.js';
import { BERTH_DISTRO } from './distros.js';
import type { HomeLayout } from './home.js';

/** `time,source;msg` lines of the wanted sources (all when none; `x` also means `x.out`). */
export function sourceFilter(sources: string[]): (line: string) => boolean {
  const sourceOf = (line: string) => line.slice(line.indexOf(',') + 1, line.indexOf(';'));
  return (line) => sources.length === 0 || sources.includes(sourceOf(line)) || sources.includes(sourceOf(line).replace(/\.out$/, ''));
}

/** The engine's log daemon, if the engine runs. */
export const connectLogDaemon = (wsl: WslHost): Promise<Duplex | undefined> => wsl.connect(BERTH_DISTRO, sharedPath('logSocket')).catch(() => undefined);

/**
 * Berth's logs as `time,source;msg`: the log daemon's lines (the engine's services, onboot
 * actions, the agent) with the manager's own. `dump`: what there is, merged by time. With
 * `follow`, new lines go to `onLine` as they come until the returned stop is called.
 */
export class BerthLogs {
  private readonly manager: FileTail;
  private stops: Array<() => void> = [];

  constructor(
    private readonly home: HomeLayout,
    private readonly wsl: WslHost,
    private readonly wanted: (line: string) => boolean,
  ) {
    this.manager = new FileTail(join(home.logsDir, 'berth.log'));
  }

  /** What there is now, by time; `engineRunning` false when only the manager's log could be read. */
  async dump(): Promise<{ lines: string[]; engineRunning: boolean }> {
    const lines = (await this.manager.read()).filter(this.wanted);
    const daemon = await connectLogDaemon(this.wsl);
    if (daemon) await readLogs(daemon, 'dump', [], (e) => void (this.wanted(formatLine(e)) && lines.push(formatLine(e))));
    // By time only (a stable sort keeps each source's own order within one instant).
    const at = (line: string) => Date.parse(line.slice(0, line.indexOf(','))) || 0;
    return { lines: lines.sort((a, b) => at(a) - at(b)), engineRunning: Boolean(daemon) };
  }

  /**
   * Lines as they come; with `existing`, first what there is (the log daemon sends its ring
   * and then follows on one connection, so nothing falls between the two).
   */
  async follow(onLine: (line: string) => void, o: { existing: boolean }): Promise<{ engineRunning: boolean }> {
    const old = await this.manager.read();
    if (o.existing) old.filter(this.wanted).forEach(onLine);
    const daemon = await connectLogDaemon(this.wsl);
    if (daemon) {
      void readLogs(daemon, o.existing ? 'dumpAndFollow' : 'follow', [], (e) => void (this.wanted(formatLine(e)) && onLine(formatLine(e)))).catch(() => undefined);
      this.stops.push(() => daemon.destroy());
    }
    const watcher = watch(this.home.logsDir, () => void this.manager.read().then((ls) => ls.filter(this.wanted).forEach(onLine)));
    this.stops.push(() => watcher.close());
    return { engineRunning: Boolean(daemon) };
  }

  stop(): void {
    for (const s of this.stops) s();
    this.stops = [];
  }
}
