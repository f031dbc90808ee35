import { join } from 'node:path';
import { DOCKER_INTERNAL_NAMES, ENGINE_LINK } from './addresses.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import type { EngineLink, EngineLinkStatus } from './engine-link.js';
import { SystemResolver } from './host-resolver.js';
import { PastaEngineLink } from './pasta-link.js';

export const ENGINE_NETNS_IN_SHARED_AREA = 'berth/engine.netns';

/**
 * The host side of the engine's networking, as the backend runs it: Berth DNS (up for the
 * backend's whole life) and the engine link (attached again after every engine start, as
 * each start makes a new namespace).
 */
export class EngineNetwork {
  private dns: DnsServer | undefined;
  private link: EngineLink | undefined;
  private error: string | undefined;

  constructor(
    private readonly o: {
      /** The shared area as the host sees it; undefined where the host cannot (Windows: see README). */
      sharedArea: string | undefined;
      runDir: string;
      logsDir: string;
      log: (line: string) => void;
    },
  ) {}

  /** After the engine is up: Berth DNS if not yet, then the link into the engine's namespace. */
  async attach(): Promise<void> {
    try {
      this.dns ??= await startDnsServer(new SystemResolver(), DOCKER_INTERNAL_NAMES, this.o.log);
      if (!this.o.sharedArea) throw new Error('the engine link needs the shared area on the host (the Linux WSL host); on Windows it is gvproxy, not built yet');
      this.link ??= new PastaEngineLink({
        netns: join(this.o.sharedArea, ENGINE_NETNS_IN_SHARED_AREA),
        dnsPort: this.dns.port,
        pidFile: join(this.o.runDir, 'engine-link.pid'),
        logFile: join(this.o.logsDir, 'engine-link.log'),
        log: this.o.log,
      });
      await this.link.start();
      this.error = undefined;
      this.o.log(`engine link up: ${ENGINE_LINK.address} via ${ENGINE_LINK.gateway}; Berth DNS on 127.0.0.1:${this.dns.port}`);
    } catch (e) {
      this.error = (e as Error).message;
      this.o.log(`engine link: ${this.error}`);
    }
  }

  /** The engine stopped: its namespace is gone, and so is what the link was attached to. */
  async detach(): Promise<void> {
    await this.link?.stop();
  }

  async close(): Promise<void> {
    await this.detach();
    await this.dns?.close();
    this.dns = undefined;
  }

  status(): EngineLinkStatus {
    const s: EngineLinkStatus = this.link?.status() ?? { state: 'down', helper: 'pasta', address: ENGINE_LINK.address, gateway: ENGINE_LINK.gateway, restarts: 0 };
    return this.error ? { ...s, state: 'failed', error: this.error } : s;
  }
}
