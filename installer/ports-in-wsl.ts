import { Backoff } from '../common/backoff.js';
import { portKey, type PortRequest, type Protocol } from '../common/port-forward/claim-messages.js';
import type { PublishedListener } from '../common/port-forward/forward-udp.js';
import { RelayListeners, type RelayChild } from '../common/port-forward/native-relay.js';
import type { TargetSlot } from '../common/port-forward/target-slot.js';
import type { SerialQueue } from '../common/serial-queue.js';
import { sharedPath } from '../common/shared-area.js';
import { paths } from '../bootstrap-distro/agent/paths.js';
import type { WslHost } from '../wsl-host/host.js';
import type { OwnedTimers } from './backend/clock.js';
import { BERTH_DISTRO } from './distros.js';
import { AGENT } from './engine.js';
import { PortHelperClient } from './port-helper-client.js';

/** What binds published ports of one protocol in the WSL network namespace. */
interface ListenerSource {
  listen(r: PortRequest, slot: TargetSlot): Promise<PublishedListener>;
  onExit(handler: () => void): void;
  stop(): Promise<void>;
}

interface Bound {
  request: PortRequest;
  slot: TargetSlot;
  listener: PublishedListener | undefined;
  /** The relay or helper that holds it: one that died took the listener with it. */
  source: ListenerSource;
}

const NAMES: Record<Protocol, string> = { tcp: 'port relay', udp: 'UDP port helper' };

/**
 * Published ports on the distros' side: bound in the WSL network namespace (every distro's
 * localhost) from the berth distro, and carried to the engine's forwarder sockets. TCP is
 * bound by berth-relay listen itself, with no Node there; UDP by the Node port helper,
 * started only once a UDP port is published and ended when the last one goes. Either, if
 * it dies, is started again with the helper restart policy and binds its ports again.
 */
export class WslPortSide {
  private readonly sources: Partial<Record<Protocol, ListenerSource>> = {};
  private readonly backoff: Record<Protocol, Backoff> = { tcp: new Backoff(Backoff.HELPER_RESTART), udp: new Backoff(Backoff.HELPER_RESTART) };
  /** What is bound, to bind again after a restart. */
  private readonly bound = new Map<string, Bound>();
  private stopped = false;

  constructor(
    private readonly wsl: WslHost,
    private readonly log: (line: string) => void,
    /** The port forwards' queue: a rebind must not interleave with a claim. */
    private readonly queue: SerialQueue,
    private readonly timers: OwnedTimers,
    private readonly now: () => number,
  ) {}

  /** Starts the TCP relay now, so the first claim does not wait for it. */
  start(): void {
    this.stopped = false;
    this.source('tcp');
  }

  /** Binds the port there; rejects with an error whose `code` names the cause (EADDRINUSE…). */
  async listen(r: PortRequest, slot: TargetSlot): Promise<PublishedListener> {
    const key = portKey(r);
    const source = this.source(r.proto);
    const entry: Bound = { request: r, slot, listener: await source.listen(r, slot), source };
    this.bound.set(key, entry);
    return {
      close: () => {
        if (this.bound.get(key) === entry) this.bound.delete(key);
        entry.listener?.close();
        if (r.proto === 'udp' && ![...this.bound.values()].some((b) => b.request.proto === 'udp')) void this.end('udp');
      },
    };
  }

  private source(proto: Protocol): ListenerSource {
    const running = this.sources[proto];
    if (running) return running;
    const startedAt = this.now();
    const source = proto === 'tcp' ? new RelayListeners(this.relayInWsl(), (l) => this.log(`port relay in WSL: ${l}`)) : this.udpHelper();
    source.onExit(() => {
      if (this.sources[proto] !== source) return;
      delete this.sources[proto];
      if (this.stopped) return;
      this.backoff[proto].ran(this.now() - startedAt);
      const delay = this.backoff[proto].next();
      this.log(`the ${NAMES[proto]} in the berth distro exited; starting it again in ${delay} ms`);
      this.timers.after(delay, () => void this.queue.run(() => this.bindAgain(proto)));
    });
    this.sources[proto] = source;
    return source;
  }

  /**
   * berth-relay listen in the berth distro, through wsl: its stdio is the control channel.
   * The engine's forwarder runs on the same kernel (the VM's), so each connection is handed
   * to it whole (--pass-to) and its bytes cross one relay.
   */
  private relayInWsl(): RelayChild {
    const p = this.wsl.exec(BERTH_DISTRO, [paths.relay, 'listen', '--pass-to', sharedPath('forwardSocket')], { user: 'root', stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
    if (!p.stdin || !p.stdout || !p.stderr) throw new Error('wsl gave the port relay no pipes');
    p.stdin.on('error', () => undefined); // it exited: `exited` says so
    const exited = p.done.then(
      (r) => (r.exitCode === 0 ? undefined : `exited (code ${r.exitCode})`),
      (e: Error) => `could not run: ${e.message}`,
    );
    return { stdin: p.stdin, stdout: p.stdout, stderr: p.stderr, pid: p.pid, exited };
  }

  private udpHelper(): PortHelperClient {
    const p = this.wsl.exec(BERTH_DISTRO, [AGENT, 'ports'], { user: 'root', stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
    return new PortHelperClient(p, this.log);
  }

  /** A new relay or helper: every port it had is bound again, to the same targets. */
  private async bindAgain(proto: Protocol): Promise<void> {
    if (this.stopped) return;
    const lost = [...this.bound.entries()].filter(([, b]) => b.request.proto === proto && b.source !== this.sources[proto]);
    if (lost.length === 0) return;
    const source = this.source(proto);
    for (const [key, b] of lost) {
      b.source = source;
      b.listener = await source.listen(b.request, b.slot).catch((e: NodeJS.ErrnoException) => void this.log(`cannot publish ${key} in WSL again: ${e.code ?? e.message}`));
    }
  }

  private async end(proto: Protocol): Promise<void> {
    const source = this.sources[proto];
    delete this.sources[proto];
    await source?.stop();
  }

  /** Ends the relay and the helper; their listeners go with them. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.bound.clear();
    await Promise.all([this.end('tcp'), this.end('udp')]);
  }
}
