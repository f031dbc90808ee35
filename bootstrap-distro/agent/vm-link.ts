import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { paths } from './paths.js';
import { runCommand } from '../../common/run-command.js';
import { ENGINE_XTABLES_LOCK, LEGACY_PROBE_ARGS, LEGACY_XTABLES, NFT_XTABLES } from '../../common/engine-iptables.js';

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
  /**
   * iptables from the engine's system image, run in the caller's namespace (the berth distro
   * has no iptables of its own): `iptables` and `iptables-restore` as WSL's VM namespace has
   * them (nf_tables), `engine-iptables` and `engine-iptables-restore` as the engine's namespace
   * has them (common/engine-iptables.ts).
   */
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
ipt=$1 ns=$2 vm=$3 eng=$4 vmaddr=$5 engaddr=$6 prefix=$7 mtu=$8 vm_rules=$9 engine_rules=\${10}
# The engine's side in one nsenter: its end of the pair, and its rules in one iptables-restore.
nsenter --net="$ns" sh -c '
  set -e
  ip link add "$1" type veth
  peer=$(ip -o link show "$1" | sed -n "s/^[0-9]*: [^@]*@\\([^:]*\\):.*/\\1/p")
  [ -n "$peer" ] || { echo "no peer for $1" >&2; exit 1; }
  ip link set "$peer" name "$2"
  ip link set "$2" netns 1
  ip addr add "$3" dev "$1"
  ip link set "$1" mtu "$4" up
  printf "%s" "$6" | "$5" engine-iptables-restore --noflush
' engine-side "$eng" "$vm" "$engaddr/$prefix" "$mtu" "$ipt" "$engine_rules"
ip addr add "$vmaddr/$prefix" dev "$vm"
ip link set "$vm" mtu "$mtu" up
echo 1 > "/proc/sys/net/ipv4/conf/$vm/route_localnet"
printf '%s' "$vm_rules" | "$ipt" iptables-restore --noflush
`;

/**
 * The VM side's rules, as iptables-restore --noflush takes them (one call, where a command
 * a rule cost ~90 ms of every start). The teardown before has removed any earlier ones.
 */
function vmRules(): string {
  const l = VM_LINK;
  return [`*nat`, `:${l.chain} - [0:0]`, `-A OUTPUT -j ${l.chain}`, `-A POSTROUTING -o ${l.vmDevice} -j SNAT --to-source ${l.vmAddress}`, 'COMMIT', ''].join('\n');
}

/** The engine's new namespace: the jumps to Berth's chains, first in line; vm-port-rules.ts fills the chains. */
function engineRules(): string {
  const l = VM_LINK;
  return [
    '*nat',
    `:${l.chain} - [0:0]`,
    `-I PREROUTING 1 -i ${l.engineDevice} -j ${l.chain}`,
    'COMMIT',
    '*filter',
    `:${l.chain} - [0:0]`,
    `-A ${l.chain} -p tcp -j REJECT --reject-with tcp-reset`,
    `-I FORWARD 1 -i ${l.engineDevice} -j ${l.chain}`,
    `-I INPUT 1 -i ${l.engineDevice} -j REJECT`,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * The wrapper at VM_LINK.iptables: only iptables and iptables-restore, from the image, for
 * either namespace. The VM namespace's run chrooted in the image. The engine's take the lock
 * in the engine's data store (common/engine-iptables.ts), which a chroot would hide: so they
 * run the image's binary through the image's own loader and libraries, in place.
 */
export function iptablesWrapper(o: { systemImage: string; engineXtables: string; lockFile: string }): string {
  for (const path of [o.systemImage, o.lockFile]) if (!/^\/[\w/.-]+$/.test(path)) throw new Error(`not a plain path: ${path}`);
  if (o.engineXtables !== LEGACY_XTABLES && o.engineXtables !== NFT_XTABLES) throw new Error(`not an iptables of the image: ${o.engineXtables}`);
  const image = o.systemImage;
  return [
    '#!/bin/sh',
    "# iptables from the engine's system image, in the caller's network namespace: plain for WSL's VM namespace, engine-* for the engine's.",
    'case $1 in',
    `  iptables|iptables-restore) tool=$1; shift; exec chroot '${image}' /usr/sbin/${NFT_XTABLES} "$tool" "$@" ;;`,
    `  engine-iptables|engine-iptables-restore) tool=\${1#engine-}; shift; XTABLES_LOCKFILE='${o.lockFile}' XTABLES_LIBDIR='${image}/usr/lib/x86_64-linux-gnu/xtables' exec '${image}/lib64/ld-linux-x86-64.so.2' --library-path '${image}/lib/x86_64-linux-gnu:${image}/usr/lib/x86_64-linux-gnu' '${image}/usr/sbin/${o.engineXtables}' "$tool" "$@" ;;`,
    '  *) echo "usage: $0 iptables|iptables-restore|engine-iptables|engine-iptables-restore ARGS" >&2; exit 2 ;;',
    'esac',
    '',
  ].join('\n');
}

/** The engine's iptables backend, probed in its namespace as the onboot action `iptables` does (berth.yml). */
async function engineXtables(systemImage: string): Promise<string> {
  const probe = await runCommand('nsenter', [`--net=${paths.engineNetns}`, 'chroot', systemImage, `/usr/sbin/${LEGACY_XTABLES}`, 'iptables', ...LEGACY_PROBE_ARGS]);
  return probe.exitCode === 0 ? LEGACY_XTABLES : NFT_XTABLES;
}

/**
 * Sets the link up for a newly started engine, once its namespace is published (dockerd may
 * still be starting; `start` has made the iptables lock's directory). A failure is returned, not thrown: without
 * the link, published ports still reach the engine through the relays, only slower.
 */
export async function setUpVmLink(systemImage: string, dataStore: string): Promise<string | undefined> {
  try {
    const wrapper = iptablesWrapper({ systemImage, engineXtables: await engineXtables(systemImage), lockFile: join(dataStore, ENGINE_XTABLES_LOCK) });
    await writeFile(VM_LINK.iptables, wrapper, { mode: 0o700 });
    await chmod(VM_LINK.iptables, 0o700);
    // Whatever an engine that died without its stop left in the VM's namespace goes first:
    // if this start fails half-way, no rule is left leading to a link that is not there.
    await tearDownVmLink();
    const l = VM_LINK;
    const r = await runCommand('sh', [
      '-c',
      SCRIPT,
      'berth-vm-link',
      l.iptables,
      paths.engineNetns,
      l.vmDevice,
      l.engineDevice,
      l.vmAddress,
      l.engineAddress,
      String(l.prefixLength),
      String(l.mtu),
      vmRules(),
      engineRules(),
    ]);
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
