import type { WslHost, WslProcess } from '../wsl-host/host.js';
import { createInterface } from 'node:readline';
import { Backoff } from '../common/backoff.js';
import { parseWslConf } from '../common/wsl-conf.js';
import { PROXY_EXIT, readProxyMessage } from '../wsl-proxy/proxy-messages.js';
import { IN_SHARED_AREA } from '../common/shared-area.js';
import { OwnedTimers, systemClock, type Clock } from './backend/clock.js';

const CLI_LINK = '/usr/local/bin/docker';
const HELPER_LINK = '/usr/local/bin/docker-credential-berth';

/** Where a distro sees Berth's tools: under its shared area, <automount root>wsl. */
async function toolsIn(wsl: WslHost, distro: string): Promise<string> {
  const conf = await wsl.run(distro, ['cat', '/etc/wsl.conf'], { user: 'root' });
  return `${parseWslConf(conf.exitCode === 0 ? conf.stdout : '').automount.root}wsl/${IN_SHARED_AREA.tools}`;
}

export interface IntegrationStatus {
  distro: string;
  state: 'starting' | 'running' | 'restarting' | 'conflict' | 'failed';
  detail?: string;
}

interface Running {
  proc?: WslProcess;
  status: IntegrationStatus;
  stopping: boolean;
  startedAt: number;
  backoff: Backoff;
  /** Cancels the restart a crash scheduled, while the proxy waits out its backoff. */
  cancelRestart?: () => void;
}

/** `berth integrate` waits this long for the proxy to say it serves. */
const SERVING_WITHIN_MS = 30_000;

/**
 * Integrated user distros: in each, the proxy runs as root from Berth's tools in the shared
 * area (nothing installed but a link), serving /var/run/docker.sock, kept alive by the backend.
 */
export class Integrations {
  private running = new Map<string, Running>();

  private readonly timers: OwnedTimers;

  constructor(
    private readonly wsl: WslHost,
    private readonly log: (source: string, line: string) => void,
    clock: Clock = systemClock,
  ) {
    this.timers = new OwnedTimers(clock);
  }

  /** Makes the running set match `distros`; `off` ones are cleaned up in their distro. */
  async sync(distros: string[]): Promise<void> {
    const wanted = new Set(distros.map((d) => d.toLowerCase()));
    for (const [key, r] of this.running) {
      if (!wanted.has(key)) {
        await this.stop(key);
        await this.cleanup(r.status.distro);
      }
    }
    // Asked only when a distro is to be started (WSL's list costs two calls of wsl.exe).
    const installed = distros.some((name) => !this.running.has(name.toLowerCase())) ? await this.wsl.list() : [];
    for (const name of distros) {
      const existing = this.running.get(name.toLowerCase());
      // A proxy waiting out its backoff starts now: a sync comes with the engine back (or a
      // `berth integrate`), which is what it was waiting for. Its count is kept: one that
      // fails again waits longer.
      if (existing?.status.state === 'restarting' && existing.cancelRestart) {
        existing.cancelRestart();
        await this.restart(existing.status.distro, existing);
      }
      if (existing) continue;
      const d = installed.find((x) => x.name.toLowerCase() === name.toLowerCase());
      const r: Running = { status: { distro: name, state: 'starting' }, stopping: false, startedAt: 0, backoff: new Backoff(Backoff.HELPER_RESTART) };
      this.running.set(name.toLowerCase(), r);
      if (!d) r.status = { distro: name, state: 'failed', detail: `there is no WSL distro named ${name}` };
      else if (d.version !== 2) r.status = { distro: name, state: 'failed', detail: `${name} is WSL 1; integration needs WSL 2` };
      else await this.start(d.name, r);
    }
  }

  private async start(distro: string, r: Running): Promise<void> {
    const TOOLS = await toolsIn(this.wsl, distro);
    // The docker CLI is linked in unless the distro has its own: a user's install is never overwritten.
    // Values go in as positional parameters ($1 tools, $2 link): an automount root may hold
    // spaces, quotes or $(…), and must never become shell code.
    // The credential helper likewise, unless one of that name is the distro's own.
    const link = await this.wsl.run(
      distro,
      [
        'sh',
        '-c',
        [
          'mkdir -p /usr/local/bin',
          '{ [ -e "$3" ] && [ "$(readlink "$3")" != "$1/bin/docker-credential-berth" ]; } || ln -sfn "$1/bin/docker-credential-berth" "$3"',
          'if [ -e /usr/bin/docker ] || { [ -e "$2" ] && [ "$(readlink "$2")" != "$1/bin/docker" ]; }; then echo own-cli; exit 0; fi',
          'ln -sfn "$1/bin/docker" "$2" && echo linked',
        ].join('\n'),
        'sh',
        TOOLS,
        CLI_LINK,
        HELPER_LINK,
      ],
      { user: 'root' },
    );
    const ownCli = link.stdout.trim() === 'own-cli';
    if (ownCli) this.log('integration', `${distro}: has its own docker CLI; left as it is`);
    const proc = this.wsl.exec(distro, [`${TOOLS}/bin/berth-proxy`, 'serve', '--distro', distro], { user: 'root', stdout: 'pipe', stderr: 'pipe' });
    r.proc = proc;
    r.status = { distro, state: 'starting' };
    let stderr = '';
    // Running once the proxy says it serves the socket, so `berth integrate` returns when docker works.
    r.startedAt = Date.now();
    let stopWaiting = () => {};
    const serving = new Promise<void>((resolve) => {
      if (proc.stdout) {
        createInterface({ input: proc.stdout, crlfDelay: Infinity }).on('line', (line) => {
          const message = readProxyMessage(line);
          if (message.kind === 'log') return this.log(`proxy:${distro}`, message.text);
          this.log(`proxy:${distro}`, `serving ${message.socket}`);
          r.status = { distro, state: 'running', ...(ownCli ? { detail: 'own docker CLI kept' } : {}) };
          resolve();
        });
      }
      void proc.done.finally(resolve);
      stopWaiting = this.timers.after(SERVING_WITHIN_MS, resolve);
    });
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      d.toString()
        .split('\n')
        .filter(Boolean)
        .forEach((l) => this.log(`proxy:${distro}`, l));
    });
    void proc.done.then(
      (res) => this.exited(distro, r, res.exitCode, stderr),
      (e: Error) => this.exited(distro, r, 1, e.message),
    );
    await serving;
    stopWaiting();
  }

  private exited(distro: string, r: Running, code: number, stderr: string): void {
    if (r.stopping || this.running.get(distro.toLowerCase()) !== r) return;
    if (code === PROXY_EXIT.socketTaken) {
      r.status = { distro, state: 'conflict', detail: stderr.trim() };
      return;
    }
    r.backoff.ran(Date.now() - r.startedAt);
    const delay = r.backoff.next();
    this.log('integration', `${distro}: the proxy exited (code ${code}); restarting it in ${delay} ms`);
    r.status = { distro, state: 'restarting', detail: stderr.trim().split('\n').pop() };
    r.cancelRestart = this.timers.after(delay, () => void this.restart(distro, r));
  }

  private async restart(distro: string, r: Running): Promise<void> {
    r.cancelRestart = undefined;
    if (r.stopping || this.running.get(distro.toLowerCase()) !== r) return;
    await this.start(distro, r).catch((e: Error) => this.log('integration', `${distro}: starting its proxy again failed: ${e.message}`));
  }

  private async stop(key: string): Promise<void> {
    const r = this.running.get(key);
    if (!r) return;
    r.stopping = true;
    this.running.delete(key);
    if (r.proc) {
      r.proc.kill('SIGTERM');
      // At most 5 s: a proxy that does not end is left to its distro's shutdown. The timer goes as soon as it ended.
      let cancel = () => {};
      await Promise.race([r.proc.done.catch(() => undefined), new Promise<void>((res) => (cancel = this.timers.after(5000, res)))]);
      cancel();
    }
  }

  /** Integration off: the proxy's mounts and socket, and our link (only if it is ours). */
  private async cleanup(distro: string): Promise<void> {
    const TOOLS = await toolsIn(this.wsl, distro);
    await this.wsl
      .run(
        distro,
        [
          'sh',
          '-c',
          [
            '[ -x "$1/bin/berth-proxy" ] && "$1/bin/berth-proxy" cleanup --distro "$3"',
            '[ "$(readlink "$2")" = "$1/bin/docker" ] && rm -f "$2"',
            '[ "$(readlink "$4")" = "$1/bin/docker-credential-berth" ] && rm -f "$4"',
            'true',
          ].join('\n'),
          'sh',
          TOOLS,
          CLI_LINK,
          distro,
          HELPER_LINK,
        ],
        { user: 'root' },
      )
      .catch(() => undefined);
  }

  async stopAll(): Promise<void> {
    this.timers.cancelAll();
    for (const key of [...this.running.keys()]) await this.stop(key);
  }

  status(): IntegrationStatus[] {
    return [...this.running.values()].map((r) => r.status);
  }
}
