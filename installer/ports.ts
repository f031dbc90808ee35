import { serveClaimSocket } from './claim-server.js';
import type { Server as HttpServer } from 'node:http';
import type { WslHost } from '../wsl-host/host.js';
import { ProxyError } from '../wsl-proxy/errors.js';
import { listenPublishedPort, type ForwardTarget, type ForwarderLink } from '../common/port-forward/forward.js';
import { RelayListeners } from '../common/port-forward/native-relay.js';
import { TargetSlot } from '../common/port-forward/target-slot.js';
import type { PublishedListener } from '../common/port-forward/forward-udp.js';
import { listenAddress, portKey, type PortRequest } from '../common/port-forward/claim-messages.js';
import { bindFailureMessage } from './port-errors.js';
import { followEvents, listContainers, type ContainerSummary, type EventFollower } from '../common/docker-api.js';
import { BERTH_DISTRO } from './distros.js';
import { DAEMON_SOCKET } from './engine.js';
import { WslPortSide } from './ports-in-wsl.js';
import { sharedPath } from '../common/shared-area.js';
import { Backoff } from '../common/backoff.js';
import { SerialQueue } from '../common/serial-queue.js';
import { OwnedTimers, systemClock, type Clock } from './backend/clock.js';
import { kernelCarries, VmPortRules, type KernelPort } from './vm-port-rules.js';

const FORWARDER = sharedPath('forwardSocket');
const FORWARDER_UDP = sharedPath('forwardUdpSocket');
/** A claim is kept this long even if no running container has the port yet (it is starting). */
const CLAIM_GRACE_MS = 30_000;
/** After an event, the container list is read again this much later too (it can lag the event). */
const RECONCILE_AGAIN_MS = [1000, 3000];

interface Published {
  key: string;
  request: PortRequest;
  /** The host's listener and the WSL network namespace's. */
  server: PublishedListener;
  inWsl: PublishedListener;
  target: TargetSlot;
  since: number;
}

/**
 * Published ports: each is bound on the host's loopback (here) and in the WSL network
 * namespace (ports-in-wsl.ts), and carried into the engine's
 * namespace over the forwarder socket. Claimed before a container starts, so a taken port
 * fails the start; then kept in line with the running containers, from the engine's events.
 */
export class PortForwards {
  private published = new Map<string, Published>();
  private readonly inWsl: WslPortSide;
  private stopped = false;
  private claimServer: HttpServer | undefined;
  private events: EventFollower | undefined;
  private readonly listBackoff = new Backoff(Backoff.RECONNECT);
  private reconcileError: string | undefined;
  private readonly daemon = () => this.wsl.connect(BERTH_DISTRO, DAEMON_SOCKET);
  /** Claims and reconciles run one at a time: interleaved, each would see the other's ports half made. */
  private readonly queue = new SerialQueue();
  /** A reconcile queued and not yet begun (see reconcile). */
  private pendingReconcile: Promise<void> | undefined;

  private relay: RelayListeners | undefined;
  /** The kernel's rules for the distros' side of the TCP ports (the VM link). */
  private readonly vmRules: VmPortRules;
  /** Restarts, retries and the second looks after an event: none fires after stop. */
  private readonly timers: OwnedTimers;

  constructor(
    private readonly wsl: WslHost,
    private readonly log: (line: string) => void,
    /** berth-relay on the host; without it the host's TCP listeners are Node's. */
    private readonly relayBinary?: string,
    private readonly clock: Clock = systemClock,
  ) {
    this.timers = new OwnedTimers(clock);
    this.inWsl = new WslPortSide(wsl, log, this.queue, this.timers, () => clock.now());
    this.vmRules = new VmPortRules((argv) => wsl.run(BERTH_DISTRO, argv, { user: 'root' }), log);
  }

  /**
   * How the host reaches the engine's forwarders: TCP through berth-relay where the host can
   * open the forwarder socket itself (the Linux WSL host), else through Node over
   * WslHost.connect (wsl.exe on Windows, where a native relay over the hypervisor socket
   * would take its place).
   */
  private forwarderLink(): ForwarderLink {
    const forwarderPath = this.wsl.socketHostPath(FORWARDER);
    if (forwarderPath && !this.relay && this.relayBinary) {
      const relay = RelayListeners.spawn(this.relayBinary, forwarderPath, (l) => this.log(`port relay: ${l}`));
      relay.onExit(() => {
        if (this.relay !== relay) return;
        this.relay = undefined;
        if (this.stopped) return;
        // Its listeners went with it: bind them again with a new one (the WSL side's stay).
        this.log('the host port relay exited; binding the ports on the host again');
        void this.queue.run(async () => {
          for (const p of this.published.values()) {
            if (p.request.proto !== 'tcp') continue; // UDP on the host is Node's own
            p.server = await listenPublishedPort(p.request, p.target, this.forwarderLink()).catch((e: NodeJS.ErrnoException) => {
              this.log(`cannot publish ${p.key} on the host again: ${e.code ?? e.message}`);
              return { close: () => undefined };
            });
          }
        });
      });
      this.relay = relay;
    }
    return {
      relay: this.relay,
      connectTcp: () => this.wsl.connect(BERTH_DISTRO, FORWARDER),
      connectUdp: () => this.wsl.connect(BERTH_DISTRO, FORWARDER_UDP),
    };
  }

  /** `engineAnew`: the engine was started, not attached to (see VmPortRules.engineStarted). */
  async start(claimSocket: string | undefined, engineAnew = false): Promise<void> {
    this.stopped = false;
    this.vmRules.engineStarted(engineAnew);
    this.inWsl.start();
    this.watchEvents();
    // The claim socket and the first look at the containers need nothing of each other.
    await Promise.all([claimSocket && this.serveClaims(claimSocket), this.reconcile()]);
  }

  /** Proxies in user distros ask here before a container starts. */
  private async serveClaims(path: string): Promise<void> {
    this.claimServer = await serveClaimSocket(path, { claim: (ports) => this.claim(ports), started: () => this.containerStarted() }, this.log);
  }

  /** Binds the ports on both sides, or none of them, with an error naming the port. */
  claim(requests: PortRequest[]): Promise<void> {
    return this.queue.run(() => this.claimNow(requests));
  }

  private async claimNow(requests: PortRequest[]): Promise<void> {
    const made: string[] = [];
    try {
      for (const r of requests) {
        const key = portKey(r);
        if (this.published.has(key)) continue; // ours already (a restart)
        await this.publish(r);
        made.push(key);
      }
    } catch (e) {
      for (const key of made) this.unpublish(key);
      throw e;
    }
  }

  private async publish(r: PortRequest, target?: ForwardTarget): Promise<void> {
    const key = portKey(r);
    const slot = new TargetSlot(target);
    const server = await listenPublishedPort(r, slot, this.forwarderLink()).catch((e: NodeJS.ErrnoException) => {
      throw new ProxyError(500, bindFailureMessage(r, 'host', e.code, e.message), { cause: e });
    });
    const inWsl = await this.inWsl.listen(r, slot).catch((e: NodeJS.ErrnoException) => {
      server.close();
      throw new ProxyError(500, bindFailureMessage(r, 'wsl', e.code, e.message), { cause: e });
    });
    this.published.set(key, { key, request: r, server, inWsl, target: slot, since: this.clock.now() });
  }

  private unpublish(key: string): void {
    const p = this.published.get(key);
    if (!p) return;
    this.published.delete(key);
    p.server.close();
    p.inWsl.close();
    p.target.close();
  }

  /**
   * Makes the published ports match the running containers' bindings. Calls that arrive
   * while one waits its turn share it: it has not read the container list yet, so it will
   * see whatever they were called for.
   */
  reconcile(): Promise<void> {
    this.pendingReconcile ??= this.queue.run(() => {
      this.pendingReconcile = undefined;
      return this.reconcileNow();
    });
    return this.pendingReconcile;
  }

  /**
   * A proxy saw the daemon start a container and holds its answer until this returns: the
   * container's ports, random ones included, are bound and lead to it on both sides then,
   * so a client that connects as soon as `docker run` returns is answered.
   */
  containerStarted(): Promise<void> {
    return this.reconcile();
  }

  private async reconcileNow(): Promise<void> {
    let containers: ContainerSummary[];
    try {
      containers = await listContainers(this.daemon);
      this.reconcileError = undefined;
      this.listBackoff.succeeded();
    } catch (e) {
      // Kept for `status`: published ports may now lag the containers until the next event.
      this.reconcileError = `cannot list the containers to publish their ports: ${(e as Error).message}`;
      this.log(this.reconcileError);
      // Not left until the next event: tried again with the reconnect policy.
      const delay = this.listBackoff.next();
      if (!this.stopped) this.timers.after(delay, () => void this.reconcile());
      return;
    }
    const desired = new Map<string, { request: PortRequest; target: ForwardTarget }>();
    for (const c of containers) {
      const ip = Object.values(c.NetworkSettings?.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress;
      for (const p of c.Ports ?? []) {
        if (!p.PublicPort || (p.Type !== 'tcp' && p.Type !== 'udp') || !ip) continue;
        // Docker lists 0.0.0.0 and :: for one binding: one loopback listener each.
        const request: PortRequest = { host: listenAddress(p.IP), port: p.PublicPort, proto: p.Type };
        desired.set(portKey(request), { request, target: { ip, port: p.PrivatePort } });
      }
    }
    for (const [key, want] of desired) {
      const have = this.published.get(key);
      if (have) {
        const now = have.target.get();
        if (now?.ip === want.target.ip && now.port === want.target.port) continue;
        have.target.set(want.target);
      } else {
        await this.publish(want.request, want.target).catch((e: Error) => this.log(`cannot publish ${key}: ${e.message}`));
      }
    }
    for (const [key, p] of this.published) {
      if (!desired.has(key) && this.clock.now() - p.since > CLAIM_GRACE_MS) this.unpublish(key);
      else if (!desired.has(key) && p.target.get()) this.unpublish(key); // its container stopped
    }
    await this.carryInKernel();
  }

  /**
   * Hands the distros' side of each TCP port that leads to a container to the kernel (DNAT
   * over the VM link). A new port waits for nobody: its relay listener answers until the
   * rule is there. A rule taken away or pointed elsewhere is waited for, so none leads to a
   * container that no longer has the port.
   */
  private async carryInKernel(): Promise<void> {
    const ports: KernelPort[] = [];
    for (const p of this.published.values()) {
      const target = p.target.get();
      if (p.request.proto === 'tcp' && target && kernelCarries(p.request.host) && kernelCarries(target.ip)) ports.push({ host: p.request.host, port: p.request.port, target });
    }
    const mustWait = this.vmRules.takesAway(ports);
    const applying = this.vmRules.apply(ports);
    if (mustWait) await applying;
  }

  private watchEvents(): void {
    let cancelPending = () => {};
    this.events?.stop();
    this.events = followEvents(
      this.daemon,
      { type: ['container'], event: ['start', 'die', 'stop', 'kill', 'destroy', 'restart'] },
      {
        // (Re)connected, maybe after dockerd restarted: whatever happened meanwhile was not seen.
        onConnected: () => void this.reconcile(),
        // The list can lag an event a little (and a busy daemon more): look again shortly after.
        onEvent: () => {
          cancelPending();
          cancelPending = this.timers.after(100, () => {
            void this.reconcile();
            for (const later of RECONCILE_AGAIN_MS) this.timers.after(later, () => void this.reconcile());
          });
        },
      },
    );
  }

  /** Why published ports may lag the containers (the last reconcile failed), for `status`. */
  get error(): string | undefined {
    return this.reconcileError;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.cancelAll();
    this.events?.stop();
    // The WSL side's listeners go with its relay and helper; only the host's are closed here.
    for (const p of this.published.values()) {
      p.server.close();
      p.target.close();
    }
    this.published.clear();
    this.claimServer?.close();
    const relay = this.relay;
    this.relay = undefined;
    await Promise.all([relay?.stop(), this.inWsl.stop()]);
  }
}
