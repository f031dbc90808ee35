import type { ProxySettings } from '../settings.js';

/** Where the engine's traffic goes: an upstream proxy per scheme, and what bypasses it. */
export interface UpstreamProxy {
  http?: string;
  https?: string;
  /** A PAC file's URL: it names the upstream per request (pac.ts), instead of http/https. */
  pac?: string;
  exclude: string[];
}

export const NO_UPSTREAM: UpstreamProxy = { exclude: [] };

/**
 * The upstream a proxy setting means here. `system` is the host's own: on Linux the
 * HTTP(S)_PROXY / NO_PROXY environment Berth was started with (either case); on Windows the
 * user's Internet Settings (parseInternetSettings, from `reg query`).
 */
export function upstreamFor(p: ProxySettings, env: NodeJS.ProcessEnv, windowsSettings?: UpstreamProxy): UpstreamProxy {
  if (p.mode === 'none') return NO_UPSTREAM;
  if (p.mode === 'manual') return { ...(p.http ? { http: p.http } : {}), ...(p.https ? { https: p.https } : {}), exclude: p.exclude };
  if (p.mode === 'pac') return { ...(p.pac ? { pac: p.pac } : {}), exclude: p.exclude };
  if (windowsSettings) return { ...windowsSettings, exclude: [...windowsSettings.exclude, ...p.exclude] };
  const pick = (name: string) => env[name] || env[name.toLowerCase()] || undefined;
  const http = pick('HTTP_PROXY');
  const https = pick('HTTPS_PROXY');
  const noProxy = (pick('NO_PROXY') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { ...(http ? { http } : {}), ...(https ? { https } : {}), exclude: [...noProxy, ...p.exclude] };
}

/**
 * Windows' per-user proxy, from `reg query "HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings"`:
 * ProxyEnable (REG_DWORD 0x1), ProxyServer (`host:port`, or `http=h:p;https=h:p`) and
 * ProxyOverride (`;`-separated, `<local>` meaning names without a dot). AutoConfigURL (the
 * "Use setup script" box) wins over them, as it does for WinHTTP.
 */
export function parseInternetSettings(regQueryOutput: string): UpstreamProxy {
  const values = new Map<string, string>();
  for (const line of regQueryOutput.split(/\r?\n/)) {
    const m = /^\s+(\S+)\s+REG_\w+\s+(.*?)\s*$/.exec(line);
    if (m) values.set(m[1]!.toLowerCase(), m[2]!);
  }
  const pac = values.get('autoconfigurl');
  if (pac) return { pac, exclude: [] };
  if (Number(values.get('proxyenable') ?? '0') === 0) return NO_UPSTREAM;
  const server = values.get('proxyserver') ?? '';
  const asUrl = (hostPort: string) => (/^[a-z]+:\/\//i.test(hostPort) ? hostPort : `http://${hostPort}`);
  const out: UpstreamProxy = { exclude: [] };
  if (server.includes('=')) {
    for (const part of server.split(';')) {
      const [scheme, hostPort] = part.split('=');
      if (scheme?.toLowerCase() === 'http' && hostPort) out.http = asUrl(hostPort);
      if (scheme?.toLowerCase() === 'https' && hostPort) out.https = asUrl(hostPort);
    }
  } else if (server) {
    out.http = out.https = asUrl(server);
  }
  out.exclude = (values.get('proxyoverride') ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s === '<local>' ? '<local>' : s.replace(/^\*\./, '.')));
  return out;
}

/** Whether `host` bypasses the proxy: NO_PROXY's rules (exact, .domain / *.domain suffix, `*`, CIDR, `<local>`). */
export function isExcluded(host: string, exclude: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return exclude.some((rule) => {
    const r = rule.toLowerCase().trim().replace(/:\d+$/, '');
    if (r === '*') return true;
    if (r === '<local>') return !h.includes('.') && !h.includes(':');
    if (r.includes('/')) return inCidr(h, r);
    const domain = r.replace(/^\*?\./, '');
    return h === domain || h.endsWith(`.${domain}`);
  });
}

function inCidr(address: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const toInt = (a: string) => (/^\d+\.\d+\.\d+\.\d+$/.test(a) ? a.split('.').reduce((n, o) => n * 256 + Number(o), 0) : undefined);
  const a = toInt(address);
  const n = toInt(net ?? '');
  const b = Number(bits);
  if (a === undefined || n === undefined || !(b >= 0 && b <= 32)) return false;
  const size = 2 ** (32 - b);
  return Math.floor(a / size) === Math.floor(n / size);
}
