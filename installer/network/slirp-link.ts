import type { ChildProcess } from 'node:child_process';
import { LINK_DEVICE } from '../../common/user-mode-net.js';
import { endProcessFromPidFile, sleep, type RunningHelper } from '../../common/process.js';
import { startSlirp } from '../../common/slirp.js';
import { Backoff } from '../../common/backoff.js';
import { ENGINE_LINK, ENGINE_NETWORK } from './addresses.js';
import { applyLinkRules, type GatewayRedirect } from './link-rules.js';
import type { EngineLink, EngineLinkStatus } from './engine-link.js';
import { OUTBOUND_RELAY_PORT, startOutboundRelay } from './outbound-relay.js';

export interface SlirpLinkOptions {
  /** The engine's network namespace as the host sees it (published by the agent in the shared area). */
  netns: string;
  /** The lock every writer of the engine's rules takes (common/engine-iptables.ts), as the host reaches it. */
  xtablesLock: string;
  /** Berth's host-side servers the engine reaches on the gateway (DNS, the internal proxy). */
  redirects: GatewayRedirect[];
  pidFile: string;
  logFile: string;
  log: (line: string) => void;
  /** berth-relay, which then carries the engine's TCP (to the host and to public addresses) instead of slirp4netns. */
  outboundRelay?: { binary: string; pidFile: string };
}

/**
 * The Linux engine link: slirp4netns, on the host, attached to the engine's namespace, and
 * beside it the outbound relay, which carries TCP at the kernel's speed (slirp4netns keeps
 * UDP, ICMP and its private destinations). It is supervised: if either dies while the
 * engine runs, both are started again.
 */
export class SlirpEngineLink implements EngineLink {
  private child: ChildProcess | undefined;
  private relay: ChildProcess | undefined;
  /** Which launch the running helpers belong to: an exit from an older one is not news. */
  private generation = 0;
  private state: EngineLinkStatus['state'] = 'down';
  private restarts = 0;
  private readonly backoff = new Backoff(Backoff.HELPER_RESTART);
  private error: string | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: SlirpLinkOptions) {}

  async start(): Promise<void> {
    await this.stop();
    this.stopping = false;
    this.state = 'starting';
    try {
      await this.launch();
      this.backoff.succeeded();
    } catch (e) {
      this.state = 'failed';
      this.error = (e as Error).message;
      throw e;
    }
  }

  private async launch(): Promise<void> {
    const generation = ++this.generation;
    this.relay = undefined; // a live one is ended through its pid file, as slirp4netns is
    // One left by a killed backend would hold a second link device in the same namespace.
    const old = await endProcessFromPidFile(this.o.pidFile, ['slirp4netns', this.o.netns]);
    if (old) this.o.log(`engine link: ended the link of an earlier backend (pid ${old})`);
    let slirp: RunningHelper;
    try {
      slirp = await startSlirp({ ...ENGINE_NETWORK, netns: this.o.netns, dns: false, logFile: this.o.logFile, pidFile: this.o.pidFile });
    } catch (e) {
      throw new Error(`the engine link: ${(e as Error).message}`, { cause: e });
    }
    this.child = slirp.child;
    const exited = slirp.exited;
    const relay = this.o.outboundRelay && (await startOutboundRelay({ ...this.o.outboundRelay, netns: this.o.netns, gateway: ENGINE_LINK.gateway, logFile: this.o.logFile }));
    this.relay = relay?.child;
    await applyLinkRules(
      this.o.netns,
      {
        gateway: ENGINE_LINK.gateway,
        device: LINK_DEVICE,
        redirects: this.o.redirects,
        ...(relay ? { outboundPort: OUTBOUND_RELAY_PORT } : {}),
      },
      this.o.xtablesLock,
    );
    this.state = 'up';
    this.error = undefined;
    const upSince = Date.now();
    void exited.then((why) => this.onExit(generation, `slirp4netns ended (${why})`, upSince));
    void relay?.exited.then((why) => this.onExit(generation, `outbound relay (berth-relay) ended (${why})`, upSince));
  }

  private onExit(generation: number, what: string, upSince: number): void {
    if (this.stopping || generation !== this.generation) return;
    this.generation++; // its sibling's exit, which the restart causes, is then old news
    this.backoff.ran(Date.now() - upSince);
    const delay = this.backoff.next();
    this.state = 'restarting';
    this.error = `the link's ${what}`;
    this.o.log(`engine link: ${what}; starting it again in ${delay} ms`);
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    this.restarts++;
    try {
      await this.launch();
      this.o.log('engine link: up again');
    } catch (e) {
      this.error = (e as Error).message;
      this.o.log(`engine link: ${this.error}`);
      this.onExit(this.generation, this.error, Date.now());
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const children = [this.child, this.relay].filter((c): c is ChildProcess => c !== undefined);
    this.child = this.relay = undefined;
    await Promise.all(children.map(endChild));
    if (this.state !== 'failed') this.state = 'down';
  }

  status(): EngineLinkStatus {
    return {
      state: this.state,
      helper: 'slirp4netns',
      ...(this.child?.pid ? { pid: this.child.pid } : {}),
      ...(this.relay?.pid ? { tcpRelayPid: this.relay.pid } : {}),
      address: ENGINE_LINK.address,
      gateway: ENGINE_LINK.gateway,
      restarts: this.restarts,
      ...(this.error ? { error: this.error } : {}),
      log: this.o.logFile,
    };
  }
}

/** SIGTERM, then SIGKILL after 3 s; resolves once it has exited. */
async function endChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(3000).then(() => void child.kill('SIGKILL'))]);
}
