import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { findHelper, LINK_DEVICE, slirpArgs } from '../../common/user-mode-net.js';
import { endProcessFromPidFile, sleep, waitFor } from '../../common/process.js';
import { Backoff } from '../../common/backoff.js';
import { ENGINE_LINK, ENGINE_NETWORK } from './addresses.js';
import { applyLinkRules, type GatewayRedirect } from './link-rules.js';
import type { EngineLink, EngineLinkStatus } from './engine-link.js';

export interface SlirpLinkOptions {
  /** The engine's network namespace as the host sees it (published by the agent in the shared area). */
  netns: string;
  /** Berth's host-side servers the engine reaches on the gateway (DNS, the internal proxy). */
  redirects: GatewayRedirect[];
  pidFile: string;
  logFile: string;
  log: (line: string) => void;
}

const CONFIGURED_WITHIN_MS = 5000;

/**
 * The Linux engine link: slirp4netns, on the host, attached to the engine's namespace. It
 * is supervised: if it dies while the engine runs, it is started again.
 */
export class SlirpEngineLink implements EngineLink {
  private child: ChildProcess | undefined;
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
    const slirp = await findHelper('slirp4netns');
    // One left by a killed backend would hold a second link device in the same namespace.
    const old = await endProcessFromPidFile(this.o.pidFile, ['slirp4netns', this.o.netns]);
    if (old) this.o.log(`engine link: ended the link of an earlier backend (pid ${old})`);
    const logFd = openSync(this.o.logFile, 'a', 0o600);
    const child = spawn(slirp, slirpArgs({ netns: this.o.netns, network: ENGINE_NETWORK }), { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.child = child;
    if (child.pid) await writeFile(this.o.pidFile, `${child.pid}\n`, { mode: 0o600 });
    const exited = new Promise<string>((resolve) => {
      child.once('error', (e) => resolve(e.message));
      child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit ${code}`));
    });
    const configured = waitFor(() => this.addressIsUp(), CONFIGURED_WITHIN_MS, 50);
    const outcome = await Promise.race([configured, exited]);
    if (outcome !== true) {
      child.kill('SIGKILL');
      throw new Error(`the engine link (slirp4netns) did not come up (${outcome === false ? `no address within ${CONFIGURED_WITHIN_MS} ms` : outcome}); see ${this.o.logFile}`);
    }
    await applyLinkRules(this.o.netns, { gateway: ENGINE_LINK.gateway, redirects: this.o.redirects });
    this.state = 'up';
    this.error = undefined;
    const upSince = Date.now();
    void exited.then((why) => this.onExit(child, why, upSince));
  }

  private async addressIsUp(): Promise<boolean> {
    const r = await execa('nsenter', [`--net=${this.o.netns}`, 'ip', '-o', '-4', 'addr', 'show', 'dev', LINK_DEVICE], { reject: false });
    return r.exitCode === 0 && r.stdout.includes(`inet ${ENGINE_LINK.address}/`);
  }

  private onExit(child: ChildProcess, why: string, upSince: number): void {
    if (this.stopping || this.child !== child) return;
    this.backoff.ran(Date.now() - upSince);
    const delay = this.backoff.next();
    this.state = 'restarting';
    this.error = `the link's slirp4netns ended (${why})`;
    this.o.log(`engine link: slirp4netns ended (${why}); starting it again in ${delay} ms`);
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
      this.onExit(this.child!, this.error, Date.now());
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(3000).then(() => void child.kill('SIGKILL'))]);
    }
    if (this.state !== 'failed') this.state = 'down';
  }

  status(): EngineLinkStatus {
    return {
      state: this.state,
      helper: 'slirp4netns',
      ...(this.child?.pid ? { pid: this.child.pid } : {}),
      address: ENGINE_LINK.address,
      gateway: ENGINE_LINK.gateway,
      restarts: this.restarts,
      ...(this.error ? { error: this.error } : {}),
      log: this.o.logFile,
    };
  }
}
