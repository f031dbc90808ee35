import { VM_LINK } from '../bootstrap-distro/agent/vm-link.js';
import { paths } from '../bootstrap-distro/agent/paths.js';

/** A published TCP port the kernel carries from the distros to its container. */
export interface KernelPort {
  /** Where the distros connect (an IPv4 address of the VM's namespace, 127.0.0.1 mostly). */
  host: string;
  port: number;
  target: { ip: string; port: number };
}

/** Runs the rules script in the berth distro, as root: its exit code and stderr. */
export type RunInBerthDistro = (argv: string[]) => Promise<{ exitCode: number; stderr: string }>;

/** The script's exit code when the VM link is not up (the agent could not make it). */
const NO_LINK = 3;

/**
 * Refills both namespaces' BERTH-PORTS chains in one go each (iptables-restore --noflush
 * replaces just that chain): in the VM's, a distro's connection to HOST:PORT goes to the
 * engine's end of the VM link, same port; in the engine's, what arrives there on PORT goes
 * to the container, and only that is let through (the rest is reset, vm-link.ts). The
 * engine's side first, so a VM rule never leads to a rule not yet there. Values reach the
 * shell as positional parameters, checked in vmPortRuleArgs.
 */
const SCRIPT = `
set -e
ipt=$1 ns=$2 chain=$3 engaddr=$4
shift 4
[ -x "$ipt" ] && "$ipt" iptables -t nat -C OUTPUT -j "$chain" 2>/dev/null || exit ${NO_LINK}
vm="*nat
:$chain - [0:0]"
nat="$vm"
filter="*filter
:$chain - [0:0]"
while [ $# -ge 4 ]; do
  vm="$vm
-A $chain -d $1/32 -p tcp -m tcp --dport $2 -j DNAT --to-destination $engaddr:$2"
  nat="$nat
-A $chain -p tcp -m tcp --dport $2 -j DNAT --to-destination $3:$4"
  filter="$filter
-A $chain -d $3/32 -p tcp -m tcp --dport $4 -j ACCEPT"
  shift 4
done
printf '%s\\nCOMMIT\\n%s\\n-A %s -p tcp -j REJECT --reject-with tcp-reset\\nCOMMIT\\n' "$nat" "$filter" "$chain" | nsenter --net="$ns" "$ipt" engine-iptables-restore --noflush
printf '%s\\nCOMMIT\\n' "$vm" | "$ipt" iptables-restore --noflush
`;

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const isPort = (n: number) => Number.isInteger(n) && n > 0 && n <= 65535;

/** Whether the kernel can carry this port: TCP to an IPv4 address (IPv6 stays on the relays). */
export const kernelCarries = (host: string) => IPV4.test(host);

/** The script's argv, every value checked so that none can be read as more than one. */
export function vmPortRuleArgs(ports: KernelPort[]): string[] {
  for (const p of ports) {
    if (!IPV4.test(p.host) || !IPV4.test(p.target.ip) || !isPort(p.port) || !isPort(p.target.port)) throw new Error(`vm port rules: bad port ${JSON.stringify(p)}`);
  }
  const quads = ports.flatMap((p) => [p.host, String(p.port), p.target.ip, String(p.target.port)]);
  return ['sh', '-c', SCRIPT, 'berth-vm-ports', VM_LINK.iptables, paths.engineNetns, VM_LINK.chain, VM_LINK.engineAddress, ...quads];
}

const canonical = (ports: KernelPort[]) =>
  ports
    .map((p) => `${p.host}:${p.port}>${p.target.ip}:${p.target.port}`)
    .sort()
    .join(',');

/**
 * The published ports the kernel carries, kept in both namespaces' rules. Changes are
 * applied one run at a time; calls made meanwhile share the next run, which applies the
 * newest set. Without the VM link every port still works through the relays.
 */
export class VmPortRules {
  /** The set the rules now hold; undefined when unknown (a new backend, or a run that failed). */
  private applied: string | undefined;
  private wanted: KernelPort[] = [];
  private running: Promise<void> | undefined;
  private saidNoLink = false;

  constructor(
    private readonly run: RunInBerthDistro,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * A new engine, or a new backend. An engine started anew has its VM link made anew, its
   * chains empty (the agent's setUpVmLink): nothing to apply until a port comes. One from an
   * earlier run holds what its backend left, read as unknown, so the next apply runs.
   */
  engineStarted(anew: boolean): void {
    this.applied = anew ? '' : undefined;
    this.saidNoLink = false;
  }

  /** Whether going to `next` takes a rule away or points one elsewhere (a caller then waits for it). */
  takesAway(next: KernelPort[]): boolean {
    if (this.applied === undefined) return true;
    const keep = new Set(next.map((p) => canonical([p])));
    return this.applied.split(',').some((rule) => rule !== '' && !keep.has(rule));
  }

  apply(next: KernelPort[]): Promise<void> {
    this.wanted = next;
    this.running ??= this.drain().finally(() => (this.running = undefined));
    return this.running;
  }

  private async drain(): Promise<void> {
    for (let key = canonical(this.wanted); key !== this.applied; key = canonical(this.wanted)) {
      const wanted = this.wanted;
      const r = await Promise.resolve()
        .then(() => this.run(vmPortRuleArgs(wanted)))
        .catch((e: Error) => ({ exitCode: -1, stderr: e.message }));
      if (r.exitCode === NO_LINK) {
        if (!this.saidNoLink) this.log('published ports: no VM link to the engine, so the relays carry every connection');
        this.saidNoLink = true;
        this.applied = key;
        return;
      }
      if (r.exitCode !== 0) {
        // Left as it is: the next change tries again; the relays still answer meanwhile.
        this.log(`published ports: could not set the kernel's rules: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
        this.applied = undefined;
        return;
      }
      this.applied = key;
    }
  }
}
