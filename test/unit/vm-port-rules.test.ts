import { describe, expect, it } from 'vitest';
import { kernelCarries, vmPortRuleArgs, VmPortRules, type KernelPort } from '../../installer/vm-port-rules.js';

const web: KernelPort = { host: '127.0.0.1', port: 8080, target: { ip: '172.17.0.2', port: 80 } };
const api: KernelPort = { host: '127.0.0.1', port: 3000, target: { ip: '172.17.0.3', port: 3000 } };

/** A berth distro that records each run's ports and answers with the given exit codes in turn. */
function fakeDistro(codes: number[] = []) {
  const runs: string[][] = [];
  let release: (() => void) | undefined;
  const run = async (argv: string[]) => {
    runs.push(argv.slice(8)); // the quads after sh -c SCRIPT name ipt ns chain engaddr
    if (release === undefined) await new Promise<void>((r) => (release = r));
    return { exitCode: codes.shift() ?? 0, stderr: 'iptables-restore: line 2 failed' };
  };
  return {
    runs,
    run,
    /** Lets the held run (and every later one) finish. */
    go() {
      const r = release;
      release = () => undefined;
      r?.();
    },
  };
}

describe('the kernel rules for published ports (the VM link)', () => {
  it('passes every value as its own checked argument, and refuses one that could be read as more', () => {
    const argv = vmPortRuleArgs([web]);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv.slice(-4)).toEqual(['127.0.0.1', '8080', '172.17.0.2', '80']);
    expect(() => vmPortRuleArgs([{ ...web, host: '127.0.0.1 -j ACCEPT' }])).toThrow(/bad port/);
    expect(() => vmPortRuleArgs([{ ...web, target: { ip: '172.17.0.2', port: 70000 } }])).toThrow(/bad port/);
    expect(() => vmPortRuleArgs([{ ...web, target: { ip: '$(reboot)', port: 80 } }])).toThrow(/bad port/);
  });

  it('carries IPv4 ports only: IPv6 ones stay on the relays', () => {
    expect(kernelCarries('127.0.0.1')).toBe(true);
    expect(kernelCarries('::1')).toBe(false);
    expect(kernelCarries('999.1.1.1')).toBe(false);
  });

  it('runs once per change; calls made during a run share the next one, which applies the newest set', async () => {
    const d = fakeDistro();
    const rules = new VmPortRules(d.run, () => undefined);
    const first = rules.apply([web]);
    const second = rules.apply([web, api]);
    const third = rules.apply([api]);
    expect(second).toBe(first);
    expect(third).toBe(first);
    d.go();
    await first;
    expect(d.runs).toEqual([
      ['127.0.0.1', '8080', '172.17.0.2', '80'],
      ['127.0.0.1', '3000', '172.17.0.3', '3000'],
    ]);
    await rules.apply([api]);
    expect(d.runs).toHaveLength(2);
  });

  it('says when a change takes a rule away or points it elsewhere, so the caller waits for it', async () => {
    const d = fakeDistro();
    d.go();
    const rules = new VmPortRules(d.run, () => undefined);
    expect(rules.takesAway([web])).toBe(true); // unknown at first: whatever a previous backend left
    await rules.apply([web]);
    expect(rules.takesAway([web, api])).toBe(false);
    expect(rules.takesAway([])).toBe(true);
    expect(rules.takesAway([{ ...web, target: { ip: '172.17.0.9', port: 80 } }])).toBe(true);
    rules.engineStarted(false); // attached to an engine from an earlier run: unknown again
    expect(rules.takesAway([web])).toBe(true);
  });

  it('after an engine started anew (its chains made empty) applies nothing until a port comes', async () => {
    const d = fakeDistro();
    d.go();
    const rules = new VmPortRules(d.run, () => undefined);
    await rules.apply([web]);
    rules.engineStarted(true);
    expect(rules.takesAway([])).toBe(false);
    await rules.apply([]);
    expect(d.runs).toHaveLength(1);
    await rules.apply([web]);
    expect(d.runs).toHaveLength(2);
  });

  it('without the VM link says so once and leaves the ports to the relays; a failed run is tried again on the next change', async () => {
    const lines: string[] = [];
    const d = fakeDistro([3, 3, 1, 0]);
    d.go();
    const rules = new VmPortRules(d.run, (l) => lines.push(l));
    await rules.apply([web]);
    await rules.apply([web, api]);
    expect(lines).toEqual(['published ports: no VM link to the engine, so the relays carry every connection']);
    await rules.apply([api]);
    expect(lines[1]).toMatch(/could not set the kernel's rules: iptables-restore: line 2 failed/);
    await rules.apply([api]);
    expect(d.runs).toHaveLength(4);
  });
});
