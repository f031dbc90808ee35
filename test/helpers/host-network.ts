import { readFileSync } from 'node:fs';
import { execa } from 'execa';

const SYSCTLS = ['net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding', 'net/ipv4/conf/all/forwarding'];

/**
 * The host's own network setup, as text: firewall rules, routes, links, forwarding sysctls.
 * Berth must leave it exactly as it found it. Counters are dropped (traffic changes them).
 */
export async function hostNetworkSnapshot(): Promise<Record<string, string>> {
  const out = async (file: string, args: string[]) => {
    const r = await execa(file, args, { reject: false });
    return `${r.exitCode}\n${r.stdout}`;
  };
  const withoutCounters = (text: string) =>
    text
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[-]'))
      .join('\n');
  return {
    // Both backends: Berth's engine namespace uses legacy tables, so a stray rule of Berth's in the host's could be in either.
    'iptables-nft-save': withoutCounters(await out('iptables-nft-save', [])),
    'ip6tables-nft-save': withoutCounters(await out('ip6tables-nft-save', [])),
    'iptables-legacy-save': withoutCounters(await out('iptables-legacy-save', [])),
    'ip6tables-legacy-save': withoutCounters(await out('ip6tables-legacy-save', [])),
    'ip route': await out('ip', ['route', 'show', 'table', 'all']),
    'ip -6 route': await out('ip', ['-6', 'route', 'show', 'table', 'all']),
    // Statistics and carrier details change with traffic; names, flags and addresses must not.
    'ip link': (await out('ip', ['-o', 'link', 'show'])).replace(/ qlen \d+/g, ''),
    'ip addr': await out('ip', ['-o', 'addr', 'show']),
    sysctls: SYSCTLS.map((s) => `${s}=${readFileSync(`/proc/sys/${s}`, 'utf8').trim()}`).join('\n'),
  };
}
