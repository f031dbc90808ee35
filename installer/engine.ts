import type { WslHost, WslProcess } from '../wsl-host/host.js';
import { mountDataStore, unmountDataStore } from './data-store.js';
import { BERTH_DISTRO } from './distros.js';
import { rawHttp } from '../wsl-proxy/raw-http.js';

export const AGENT = '/opt/berth/bin/berth-agent';
export const DAEMON_SOCKET = '/mnt/wsl/berth/docker.sock';
export const AGENT_SOCKET = '/mnt/wsl/berth/agent.sock';

export interface AgentServiceStatus {
  name: string;
  state: string;
  pid: number | null;
  restarts: number;
}

/** The engine as the manager drives it: the data store, then the agent attached in berth. */
export class Engine {
  private attached: WslProcess | undefined;

  constructor(
    private readonly wsl: WslHost,
    private readonly log: (source: string, line: string) => void,
  ) {}

  /**
   * Starts the engine and resolves once /_ping answers; `onExit` fires if the attached agent
   * ends later (agent died, distro terminated, WSL shut down).
   */
  async start(deadlineMs: number, onExit: (why: string) => void): Promise<void> {
    await mountDataStore(this.wsl);
    // An engine left up (its attached `start` lost with a killed manager, or killed itself)
    // is attached to, not restarted: its containers keep running.
    const running = await this.agentStatus();
    if (running) this.log('manager', 'the engine from an earlier run is still up; attaching to it');
    // The attached process is what keeps the distro from idling out, as on WSL.
    const command = running ? [AGENT, 'attach'] : [AGENT, 'start', '--timeout', String(Math.ceil(deadlineMs / 1000))];
    const agent = this.wsl.exec(BERTH_DISTRO, command, {
      user: 'root',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    this.attached = agent;
    const tail: string[] = [];
    const collect = (source: string) => (d: Buffer) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        this.log(source, line);
        tail.push(line);
        if (tail.length > 30) tail.shift();
      }
    };
    agent.stdout?.on('data', collect('agent'));
    agent.stderr?.on('data', collect('agent'));
    let ended: string | undefined;
    void agent.done.then(
      (r) => {
        ended = `the agent exited (code ${r.exitCode}${r.signal ? `, ${r.signal}` : ''})`;
        if (this.attached === agent) {
          this.attached = undefined;
          onExit(ended);
        }
      },
      (e: Error) => {
        ended = `the agent could not run: ${e.message}`;
        if (this.attached === agent) {
          this.attached = undefined;
          onExit(ended);
        }
      },
    );
    const deadline = Date.now() + deadlineMs;
    while (!(await this.ping())) {
      if (ended) throw new Error(`${ended}. Its last output:\n  ${tail.slice(-15).join('\n  ')}`);
      if (Date.now() > deadline) {
        const status = await this.agentStatus();
        throw new Error(
          `the engine did not answer /_ping within ${deadlineMs / 1000}s. Agent status: ${JSON.stringify(status?.services ?? 'unreachable')}. Last output:\n  ${tail.slice(-15).join('\n  ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(): Promise<void> {
    const agent = this.attached;
    this.attached = undefined; // from here on its exit is expected
    await this.wsl.run(BERTH_DISTRO, [AGENT, 'stop'], { user: 'root' }).catch(() => undefined);
    if (agent) {
      const done = await Promise.race([agent.done.then(() => true, () => true), new Promise((r) => setTimeout(() => r(false), 30_000))]);
      if (!done) agent.kill('SIGKILL');
    }
    await unmountDataStore(this.wsl).catch(() => undefined);
  }

  async ping(): Promise<boolean> {
    try {
      const r = await rawHttp(await this.wsl.connect(BERTH_DISTRO, DAEMON_SOCKET), 'GET', '/_ping', 2000);
      return r.status === 200 && r.body === 'OK';
    } catch {
      return false;
    }
  }

  async agentStatus(): Promise<{ services: AgentServiceStatus[] } | undefined> {
    try {
      const r = await rawHttp(await this.wsl.connect(BERTH_DISTRO, AGENT_SOCKET), 'GET', '/status', 2000);
      return r.status === 200 ? (JSON.parse(r.body) as { services: AgentServiceStatus[] }) : undefined;
    } catch {
      return undefined;
    }
  }
}
