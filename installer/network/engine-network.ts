import { join } from 'node:path';
import type { WslHost } from '../../wsl-host/host.js';
import { CONTAINERS_PROXY_FILE, type ContainersProxyEnv } from '../../wsl-proxy/containers-proxy-env.js';
import { BERTH_DISTRO } from '../distros.js';
import type { Settings } from '../settings.js';
import { DOCKER_INTERNAL_NAMES, ENGINE_LINK } from './addresses.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import type { NetworkStatus } from '../backend/status-schema.js';
import { syncTrustedCas, type CaSyncResult } from './ca-sync.js';
import type { EngineLink, EngineLinkStatus } from './engine-link.js';
import { SystemResolver } from './host-resolver.js';
import { describeUpstream, InternalProxy } from './internal-proxy.js';
import { SlirpEngineLink } from './slirp-link.js';
import { upstreamFor, type UpstreamProxy } from './upstream-proxy.js';
import { ENGINE_XTABLES_LOCK } from '../../common/engine-iptables.js';
import { sharedPath } from '../../common/shared-area.js';
import { watchDirectory, type CertsWatch } from './certs-watch.js';
import { readSecrets, withProxyPasswords } from '../secrets.js';
import { PacRouter } from './pac.js';
import { collectTrustedCas, type TrustedCas } from './trusted-cas.js';

export type { NetworkStatus };

/** The gateway ports the engine knows Berth's host-side servers by. */
export const ENGINE_PROXY_PORT = 3128;
export const CONTAINERS_PROXY_PORT = 3129;

/**
 * The host side of the engine's networking, as the backend runs it: Berth DNS and the two
 * internal proxies (up for the backend's whole life), and the engine link (attached again
 * after every engine start, as each start makes a new namespace).
 */
export class EngineNetwork {
  private dns: DnsServer | undefined;
  private readonly engineProxy: InternalProxy;
  private readonly containersProxy: InternalProxy;
  private proxyPorts: { engine: number; containers: number } | undefined;
  private link: EngineLink | undefined;
  private error: string | undefined;
  private certificates: CaSyncResult | undefined;
  /** What the last sync collected; the PAC routers' fetches trust the same. */
  private trustedCas: TrustedCas | undefined;
  private containersTrustHostCAs = true;
  /** The last upstream that refused the internal proxy for want of credentials, until the settings change. */
  private proxyProblem: string | undefined;
  private readonly pac = new Map<string, PacRouter>();
  /** Per PAC URL: why its file is not (or no longer) in use. */
  private readonly pacProblems = new Map<string, string>();
  private certsWatch: CertsWatch | undefined;

  constructor(
    private readonly o: {
      wsl: WslHost;
      /** The shared area as the host sees it; undefined where the host cannot (Windows: see README). */
      sharedArea: string | undefined;
      runDir: string;
      /** berth-relay, for the link's outbound TCP (SlirpLinkOptions.outboundRelay). */
      relayBinary?: string;
      logsDir: string;
      certsDir: string;
      certsDDir: string;
      /** Where the proxies' passwords are (installer/secrets.ts). */
      secretsFile: string;
      log: (line: string) => void;
      /** Something the user should see in status's events (an upstream that wants credentials). */
      event?: (line: string) => void;
      env?: NodeJS.ProcessEnv;
    },
  ) {
    this.engineProxy = new InternalProxy(
      (l) => o.log(`engine ${l}`),
      (p) => this.upstreamRefused(p),
    );
    this.containersProxy = new InternalProxy(
      (l) => o.log(`containers ${l}`),
      (p) => this.upstreamRefused(p),
    );
  }

  /** Points the internal proxies at what the settings say now: no restart of anything. */
  async configure(settings: Settings): Promise<void> {
    const env = this.o.env ?? process.env;
    const secrets = await readSecrets(this.o.secretsFile).catch((e: Error) => {
      this.o.log(`proxy: ${e.message}`);
      return { proxyPasswords: {} };
    });
    const engine = withProxyPasswords(upstreamFor(settings.proxy, env), secrets);
    const containers = withProxyPasswords(upstreamFor(settings.containersProxy ?? settings.proxy, env), secrets);
    const routers = await this.pacRouters([engine.pac, containers.pac]);
    this.engineProxy.configure(engine, engine.pac ? routers.get(engine.pac) : undefined);
    this.containersProxy.configure(containers, containers.pac ? routers.get(containers.pac) : undefined);
    this.proxyProblem = undefined;
    this.containersTrustHostCAs = settings.containersTrustHostCAs;
    if (this.link?.status().state === 'up') await this.publishContainersEnv();
  }

  /**
   * Before the engine starts: the host's trusted CAs into berth-data, where dockerd reads
   * them (the bundle when it starts, certs.d at each pull) and berth-runc gives them to each
   * new container (unless containersTrustHostCAs is off). A failure is shown, not fatal.
   */
  async syncCertificates(): Promise<void> {
    try {
      this.trustedCas = await this.collectCas();
      this.certificates = await syncTrustedCas(this.o.wsl, this.trustedCas, { certsDDir: this.o.certsDDir, containers: this.containersTrustHostCAs });
      for (const w of this.certificates.warnings) this.o.log(`certificates: ${w}`);
    } catch (e) {
      this.certificates = { count: 0, registries: 0, warnings: [(e as Error).message], containers: false };
      this.o.log(`certificates: ${(e as Error).message}`);
    }
  }

  /** The CAs the host trusts, with $BERTH_HOME/certs (BERTH_SYSTEM_CA_BUNDLE: another system bundle, for tests). */
  private collectCas(): Promise<TrustedCas> {
    const systemBundle = (this.o.env ?? process.env).BERTH_SYSTEM_CA_BUNDLE;
    return collectTrustedCas({ userDir: this.o.certsDir, ...(systemBundle ? { systemBundle } : {}) });
  }

  /** After the engine is up: the host-side servers if not yet, then the link into the engine's namespace. */
  async attach(): Promise<void> {
    try {
      this.dns ??= await startDnsServer({ resolver: new SystemResolver(), internalNames: DOCKER_INTERNAL_NAMES, hostLoopbackAs: ENGINE_LINK.gateway, log: this.o.log });
      this.proxyPorts ??= { engine: await this.engineProxy.start(), containers: await this.containersProxy.start() };
      if (!this.o.sharedArea) throw new Error('the engine link needs the shared area on the host (the Linux WSL host); on Windows it is gvproxy, not built yet');
      this.link ??= new SlirpEngineLink({
        netns: sharedPath('engineNetns', this.o.sharedArea),
        xtablesLock: join(sharedPath('dataStore', this.o.sharedArea), ENGINE_XTABLES_LOCK),
        redirects: [
          { proto: 'udp', port: 53, to: this.dns.port },
          { proto: 'tcp', port: 53, to: this.dns.port },
          { proto: 'tcp', port: ENGINE_PROXY_PORT, to: this.proxyPorts.engine },
          { proto: 'tcp', port: CONTAINERS_PROXY_PORT, to: this.proxyPorts.containers },
        ],
        pidFile: join(this.o.runDir, 'engine-link.pid'),
        ...(this.o.relayBinary ? { outboundRelay: { binary: this.o.relayBinary, pidFile: join(this.o.runDir, 'engine-relay.pid') } } : {}),
        logFile: join(this.o.logsDir, 'engine-link.log'),
        log: this.o.log,
      });
      await this.link.start();
      await this.publishContainersEnv();
      this.error = undefined;
      this.o.log(`engine link up: ${ENGINE_LINK.address} via ${ENGINE_LINK.gateway}; Berth DNS on 127.0.0.1:${this.dns.port}`);
    } catch (e) {
      this.error = (e as Error).message;
      this.o.log(`engine link: ${this.error}`);
    }
  }

  /** A PAC router per URL in use, started (first load done) before it routes; the others stopped. */
  private async pacRouters(urls: Array<string | undefined>): Promise<Map<string, PacRouter>> {
    const wanted = new Set(urls.filter((u): u is string => u !== undefined));
    for (const [url, router] of this.pac) {
      if (wanted.has(url)) continue;
      router.stop();
      this.pac.delete(url);
      this.pacProblems.delete(url);
    }
    const env = this.o.env ?? process.env;
    for (const url of wanted) {
      if (this.pac.has(url)) {
        await this.pac.get(url)!.load(); // `berth proxy pac` again: fetch it now
        continue;
      }
      const router = new PacRouter({
        url,
        // The bundle the last sync collected (each sync, and a change in certs/, collects it again).
        ca: async () => (this.trustedCas ??= await this.collectCas()).bundle || undefined,
        refreshMs: Number(env.BERTH_PAC_REFRESH_SECONDS ?? 60) * 1000,
        log: this.o.log,
        problem: (text) => this.pacProblem(url, text),
      });
      this.pac.set(url, router);
      await router.start();
    }
    return this.pac;
  }

  private pacProblem(url: string, text: string | undefined): void {
    if (this.pacProblems.get(url) === text) return;
    if (text === undefined) {
      this.pacProblems.delete(url);
      return;
    }
    this.pacProblems.set(url, text);
    this.o.log(`proxy: ${text}`);
    this.o.event?.(`proxy: ${text}`);
  }

  /** An upstream answered 407: one event and a status line (not one per request), naming the fix. */
  private upstreamRefused(proxy: { hostPort: string; user?: string }): void {
    const problem = proxy.user
      ? `the proxy at ${proxy.hostPort} refused the credentials of ${proxy.user}; give the right password: \`berth proxy manual --http http://${proxy.user}:PASS@${proxy.hostPort} --https http://${proxy.user}:PASS@${proxy.hostPort}\``
      : `the proxy at ${proxy.hostPort} asks for credentials: \`berth proxy manual --http http://USER:PASS@${proxy.hostPort} --https http://USER:PASS@${proxy.hostPort}\``;
    if (problem === this.proxyProblem) return;
    this.proxyProblem = problem;
    this.o.log(`proxy: ${problem}`);
    this.o.event?.(`proxy: ${problem}`);
  }

  /** The variables new containers get: the containers' internal proxy, when an upstream is set. */
  containersEnv(): ContainersProxyEnv {
    return containersProxyEnv(this.containersProxy.current);
  }

  /** For the user distros' proxies, which read it at each create (the host endpoint asks containersEnv). */
  private async publishContainersEnv(): Promise<void> {
    const script = `umask 022 && cat > "$1.tmp" && mv -f "$1.tmp" "$1"`;
    const r = await this.o.wsl.run(BERTH_DISTRO, ['sh', '-c', script, 'sh', CONTAINERS_PROXY_FILE], { user: 'root', input: JSON.stringify(this.containersEnv()) });
    if (r.exitCode !== 0) throw new Error(`could not publish the containers' proxy settings: ${r.stderr.trim()}`);
  }

  /** The engine stopped: its namespace is gone, and so is what the link was attached to. */
  async detach(): Promise<void> {
    await this.link?.stop();
  }

  /**
   * A CA added to (or removed from) $BERTH_HOME/certs reaches the next container without a
   * restart: while the engine runs, a change there syncs again (dockerd's own bundle still
   * follows at its next start).
   */
  async watchCertificates(): Promise<void> {
    if (this.certsWatch) return;
    this.certsWatch = await watchDirectory(
      this.o.certsDir,
      async () => {
        this.trustedCas = undefined;
        if (this.link?.status().state !== 'up') return;
        await this.syncCertificates();
        this.o.log(`certificates: ${this.o.certsDir} changed; ${this.certificates?.count ?? 0} CAs synced for new containers`);
      },
      (e) => this.o.log(`certificates: watching ${this.o.certsDir}: ${e.message}`),
    );
  }

  async close(): Promise<void> {
    this.certsWatch?.close();
    this.certsWatch = undefined;
    await this.detach();
    await this.dns?.close();
    await this.engineProxy.close();
    await this.containersProxy.close();
    for (const router of this.pac.values()) router.stop();
    this.pac.clear();
    this.dns = undefined;
  }

  private proxyProblems(): { problem?: string } {
    const all = [this.proxyProblem, ...this.pacProblems.values()].filter((p): p is string => p !== undefined);
    return all.length ? { problem: all.join('; ') } : {};
  }

  status(): NetworkStatus {
    const link: EngineLinkStatus = this.link?.status() ?? { state: 'down', helper: 'slirp4netns', address: ENGINE_LINK.address, gateway: ENGINE_LINK.gateway, restarts: 0 };
    return {
      ...link,
      ...(this.error ? { state: 'failed', error: this.error } : {}),
      ...(this.dns ? { dns: `127.0.0.1:${this.dns.port}` } : {}),
      proxy: { engine: describeUpstream(this.engineProxy.current), containers: describeUpstream(this.containersProxy.current), ...this.proxyProblems() },
      ...(this.certificates ? { certificates: this.certificates } : {}),
    };
  }
}

/** What containers get for an upstream: nothing when direct, else the internal proxy by name. */
export function containersProxyEnv(upstream: UpstreamProxy): ContainersProxyEnv {
  if (!upstream.http && !upstream.https && !upstream.pac) return {};
  const url = `http://http.docker.internal:${CONTAINERS_PROXY_PORT}`;
  const noProxy = ['localhost', '127.0.0.1', '::1', '.docker.internal', ...upstream.exclude].join(',');
  return { HTTP_PROXY: url, HTTPS_PROXY: url, NO_PROXY: noProxy, http_proxy: url, https_proxy: url, no_proxy: noProxy };
}
