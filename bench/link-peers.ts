import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { LINK_DEVICE, LINK_MTU, slirpAddresses, type LinkAddresses } from '../common/user-mode-net.js';
import { sleep } from '../common/process.js';
import { startSlirp } from '../common/slirp.js';

/**
 * The two user-mode link helpers side by side, outside Berth, on the path a container's
 * traffic takes: a "container" namespace behind a NATing "engine" namespace (a veth pair
 * and MASQUERADE, as dockerd's default bridge), the helper attached to the engine one.
 * Every namespace, address and rule lives in namespaces made here; nothing of the host's.
 */
export async function withLinkPeer<T>(helper: 'pasta' | 'slirp4netns', body: (run: string[], gateway: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `berth-bench-${helper}-`));
  const engine = join(dir, 'engine');
  const container = join(dir, 'container');
  let helperPid: number | undefined;
  await execa('mount', ['--bind', dir, dir]);
  await execa('mount', ['--make-private', dir]);
  try {
    for (const ns of [engine, container]) {
      writeFileSync(ns, '');
      await execa('unshare', [`--net=${ns}`, 'true']);
    }
    const network = { network: '192.168.77.0', prefixLength: 24 };
    const addresses: LinkAddresses = slirpAddresses(network);
    if (helper === 'pasta') {
      await execa('pasta', pastaArgs(addresses, engine, join(dir, 'pasta.pid')));
      helperPid = Number((await execa('cat', [join(dir, 'pasta.pid')])).stdout);
    } else {
      helperPid = (await startSlirp({ ...network, netns: engine, dns: false, logFile: join(dir, 'slirp.log'), pidFile: join(dir, 'slirp.pid') })).child.pid;
    }
    const inEngine = (script: string) => execa('nsenter', [`--net=${engine}`, 'sh', '-c', script, 'sh', container]);
    await inEngine(
      [
        'set -e',
        'ip link add vh mtu 65520 type veth peer name vc mtu 65520 netns "$1"',
        'ip addr add 172.31.77.1/24 dev vh && ip link set vh up',
        'sysctl -qw net.ipv4.ip_forward=1',
        'iptables -w -t nat -A POSTROUTING -s 172.31.77.0/24 ! -o vh -j MASQUERADE',
      ].join('\n'),
    );
    await execa('nsenter', [`--net=${container}`, 'sh', '-c', 'ip link set lo up && ip addr add 172.31.77.2/24 dev vc && ip link set vc up && ip route add default via 172.31.77.1']);
    return await body(['nsenter', `--net=${container}`, '--'], addresses.gateway);
  } finally {
    if (helperPid) process.kill(helperPid, 'SIGTERM');
    await sleep(200);
    for (const ns of [container, engine]) await execa('umount', [ns], { reject: false });
    await execa('umount', [dir], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * pasta's argv for the peer (it goes to the background once the link is configured): no port
 * forwarding either way (its default `auto` would expose every port bound in the namespace),
 * `--runas 0` (as root it would drop to nobody and lose the nsfs path), IPv4 only.
 */
function pastaArgs(a: LinkAddresses, netns: string, pidFile: string): string[] {
  const noForwarding = ['-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none'];
  return ['--runas', '0', '--quiet', '-4', '--config-net', '--netns', netns, '-I', LINK_DEVICE, '-m', String(LINK_MTU), '-a', a.address, '-n', String(a.prefixLength), '-g', a.gateway, ...noForwarding, '--pid', pidFile];
}
