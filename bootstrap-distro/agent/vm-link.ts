import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { paths } from './paths.js';
import { runCommand } from '../../common/run-command.js';

/**
 * The VM link: a veth pair between WSL's VM network namespace (every distro's) and the
 * engine's, so that the kernel carries a distro's connections to a published port (DNAT
 * in both namespaces, installer/vm-port-rules.ts) and no relay copies their bytes.
 * Link-local addresses: they route nowhere else, and the engine link leaves 169.254/16 alone.
 */
export const VM_LINK = {
  /** The VM namespace's end. */
  vmDevice: 'berth-engine',
  /** The engine namespace's end. */
  engineDevice: 'berth-vm',
  vmAddress: '169.254.65.1',
  engineAddress: '169.254.65.2',
  prefixLength: 30,
  /** veth's largest: far fewer packets per byte (measured: 256 MiB in 0.9-1.0x the container's own address's time, 1.1x at 1500). */
  mtu: 65520,
  /** The nat chain of Berth's in each namespace, refilled whole on every change. */
  chain: 'BERTH-PORTS',
  /** iptables from the engine's system image, run in the caller's namespace (the berth distro has no iptables of its own). */
  iptables: join(paths.runDir, 'iptables'),
} as const;

/**
 * Makes the link; run in the berth distro (the VM's namespace) once the engine's namespace
 * is published. busybox's ip names a veth's peer itself (vethN), so the pair is made in the
 * engine's namespace, its peer renamed and moved to the namespace of the distro's pid 1.
 * The VM side rewrites a DNATed connection's loopback source to its own address
 * (route_localnet lets a 127.0.0.1-sourced packet leave by the veth at all). In the
 * engine's namespace, the filter chain lets through only what leads to a published port
 * and resets the rest: a connection begun just as its container stopped is refused at once,
 * not left to time out; and nothing from the link reaches the engine's own sockets (the
 * outbound relay, or a daemon a user made listen on TCP), which only the translating proxy
 * may speak to. Values reach the shell as positional parameters, never spliced in.
 */
const SCRIPT = `
set -e
ipt=$1 ns=$2 vm=$3 eng=$4 vmaddr=$5 engaddr=$6 prefix=$7 chain=$8 mtu=$9
nsenter --net="$ns" ip link add "$eng" type veth
peer=$(nsenter --net="$ns" ip -o link show "$eng" | sed -n 's/^[0-9]*: [^@]*@\\([^:]*\\):.*/\\1/p')
[ -n "$peer" ] || { echo "no peer for $eng" >&2; exit 1; }
nsenter --net="$ns" ip link set "$peer" name "$vm"
nsenter --net="$ns" ip link set "$vm" netns 1
nsenter --net="$ns" ip addr add "$engaddr/$prefix" dev "$eng"
nsenter --net="$ns" ip link set "$eng" mtu "$mtu" up
ip addr add "$vmaddr/$prefix" dev "$vm"
ip link set "$vm" mtu "$mtu" up
echo 1 > "/proc/sys/net/ipv4/conf/$vm/route_localnet"
vm_nat() { "$ipt" iptables -t nat "$@"; }
engine_nat() { nsenter --net="$ns" "$ipt" iptables -t nat "$@"; }
engine_filter() { nsenter --net="$ns" "$ipt" iptables -t filter "$@"; }
for table in vm_nat engine_nat engine_filter; do "$table" -N "$chain" 2>/dev/null || true; "$table" -F "$chain"; done
vm_nat -C OUTPUT -j "$chain" 2>/dev/null || vm_nat -A OUTPUT -j "$chain"
vm_nat -C POSTROUTING -o "$vm" -j SNAT --to-source "$vmaddr" 2>/dev/null || vm_nat -A POSTROUTING -o "$vm" -j SNAT --to-source "$vmaddr"
engine_nat -C PREROUTING -i "$eng" -j "$chain" 2>/dev/null || engine_nat -I PREROUTING 1 -i "$eng" -j "$chain"
engine_filter -A "$chain" -p tcp -j REJECT --reject-with tcp-reset
engine_filter -C FORWARD -i "$eng" -j "$chain" 2>/dev/null || engine_filter -I FORWARD 1 -i "$eng" -j "$chain"
engine_filter -C INPUT -i "$eng" -j REJECT 2>/dev/null || engine_filter -I INPUT 1 -i "$eng" -j REJECT
`;

/** The wrapper at VM_LINK.iptables: only iptables and iptables-restore, from the image's root. */
function iptablesWrapper(systemImage: string): string {
  if (!/^\/[\w/.-]+$/.test(systemImage)) throw new Error(`the system image's path is not a plain path: ${systemImage}`);
  return `#!/bin/sh\n# iptables from the engine's system image, in the caller's network namespace.\ncase $1 in iptables|iptables-restore) ;; *) echo "usage: $0 iptables|iptables-restore ARGS" >&2; exit 2 ;; esac\ntool=$1\nshift\nexec chroot '${systemImage}' "/usr/sbin/$tool" "$@"\n`;
}

/**
 * Sets the link up for a newly started engine. A failure is returned, not thrown: without
 * the link, published ports still reach the engine through the relays, only slower.
 */
export async function setUpVmLink(systemImage: string): Promise<string | undefined> {
  try {
    await writeFile(VM_LINK.iptables, iptablesWrapper(systemImage), { mode: 0o700 });
    await chmod(VM_LINK.iptables, 0o700);
    // Whatever an engine that died without its stop left in the VM's namespace goes first:
    // if this start fails half-way, no rule is left leading to a link that is not there.
    await tearDownVmLink();
    const l = VM_LINK;
    const r = await runCommand('sh', ['-c', SCRIPT, 'berth-vm-link', l.iptables, paths.engineNetns, l.vmDevice, l.engineDevice, l.vmAddress, l.engineAddress, String(l.prefixLength), l.chain, String(l.mtu)]);
    return r.exitCode === 0 ? undefined : r.stderr || r.stdout || `exit ${r.exitCode}`;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Takes the VM side's rules and end of the link away (the engine's went with its
 * namespace): no distro's connection is sent to a link that is not there.
 */
const TEAR_DOWN = `
ipt=$1 vm=$2 vmaddr=$3 chain=$4
[ -x "$ipt" ] || exit 0
while "$ipt" iptables -t nat -D OUTPUT -j "$chain" 2>/dev/null; do :; done
while "$ipt" iptables -t nat -D POSTROUTING -o "$vm" -j SNAT --to-source "$vmaddr" 2>/dev/null; do :; done
"$ipt" iptables -t nat -F "$chain" 2>/dev/null
"$ipt" iptables -t nat -X "$chain" 2>/dev/null
ip link del "$vm" 2>/dev/null
exit 0
`;

export async function tearDownVmLink(): Promise<void> {
  const l = VM_LINK;
  await runCommand('sh', ['-c', TEAR_DOWN, 'berth-vm-unlink', l.iptables, l.vmDevice, l.vmAddress, l.chain]);
}
