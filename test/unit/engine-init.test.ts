import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBootPlan } from '../../bootstrap-distro/agent/boot-plan.js';
import { parseLinuxkit } from '../../bootstrap-distro/agent/linuxkit-yaml.js';
import { makeRootfsDir } from '../helpers/busybox-distro.js';
import { REPO, requireRoot } from '../helpers/wsl-root.js';
import { BUILD_BOTH_TIMEOUT_MS, buildBoth, nativeBuilds } from '../helpers/native-builds.js';

// berth-engine-init as the agent's start runs it: new namespaces, the LinuxKit root made of
// two image directories (busybox below, a marker file above), a data store and a shared area,
// a boot plan compiled by the agent's own encoder, and a stand-in supervisor (a Node script
// that reads the events with the supervisor's own reader). Once with the static build the
// berth distro ships, once built with ASan/UBSan (any report fails the case).
const run = requireRoot('berth-engine-init (namespaces, mounts, cgroups)');
const builds = nativeBuilds('berth-engine-init');
const FIXTURE = join(REPO, 'test/fixtures/engine-init-supervisor.mjs');
const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error/;

const STOCK = `
onboot:
  - name: prep
    command: ["/bin/sh", "-c", "echo prepared > /var/lib/prepared; echo prep says hello; echo prep warns >&2"]
services:
  - name: sleeper
    command: ["/bin/sh", "-c", "echo sleeper up; exec sleep 1000"]
  - name: quitter
    cwd: /var/lib
    command: ["sh", "-c", "pwd; exit 3"]
`;

/** What the stand-in supervisor saw (test/fixtures/engine-init-supervisor.mjs). */
interface Report {
  root: string;
  onboot: Record<string, { exitCode: number; ms: number } | undefined>;
  started: Record<string, number>;
  exits: Record<string, { code: number | null; signal: string | null }>;
  logs: string[];
  notUnderstood: string[];
  cgroup: string;
  nice: number;
  topFile?: string;
  prepared?: string;
}

/** A cgroup of the test's own in a hierarchy this machine has (v1's pids, or v2's root). */
function testCgroup(): string {
  const base = existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup';
  const dir = join(base, `berth-engine-init-test-${process.pid}-${Date.now()}`);
  mkdirSync(dir);
  return dir;
}

beforeAll(buildBoth, BUILD_BOTH_TIMEOUT_MS);

describe.runIf(run).each(builds)('berth-engine-init ($name)', ({ binary }) => {
  // Made when the cases run, not when they are collected: a filtered-out build leaves nothing.
  let dir = '';
  let system = '';
  let top = '';
  const cgroups: string[] = [];
  let n = 0;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-engine-init-'));
    [system, top] = [join(dir, 'system'), join(dir, 'top')];
    makeRootfsDir(system);
    for (const d of ['proc', 'sys', 'dev', 'var/lib']) mkdirSync(join(system, d), { recursive: true });
    mkdirSync(top);
    writeFileSync(join(top, 'top.txt'), 'from the top image\n');
  });
  afterAll(() => {
    for (const c of cgroups) rmdirSync(c);
    rmSync(dir, { recursive: true, force: true });
  });

  /** One run: its own root, store, shared area and report; resolves once it has ended. */
  async function start(o: { yaml?: string; lower?: string; onboot?: string[]; services?: string[]; stop?: string; plan?: Buffer; extraArgs?: string[] }) {
    const at = join(dir, `run-${++n}`);
    const [data, shared, cgroup] = [join(at, 'data'), join(at, 'shared'), testCgroup()];
    cgroups.push(cgroup);
    mkdirSync(data, { recursive: true });
    mkdirSync(shared);
    writeFileSync(join(shared, 'shared.txt'), 'shared\n');
    const plan = join(at, 'boot.plan');
    writeFileSync(plan, o.plan ?? encodeBootPlan(parseLinuxkit(o.yaml ?? STOCK, 'test.yml')));
    const root = join(at, 'root');
    const result = await execa(
      binary,
      [
        ...['--root', root, '--rw', join(at, 'rw'), '--lower', o.lower ?? `${top}:${system}`, '--data', data, '--shared', shared, '--plan', plan, '--cgroup-procs', join(cgroup, 'cgroup.procs')],
        ...(o.extraArgs ?? []),
        '--',
        process.execPath,
        FIXTURE,
      ],
      {
        reject: false,
        timeout: 30_000,
        env: { ROOT: root, REPORT: join(at, 'report.json'), ONBOOT: (o.onboot ?? ['prep']).join(','), SERVICES: (o.services ?? ['sleeper', 'quitter']).join(','), STOP: o.stop ?? 'sleeper' },
      },
    );
    const report = existsSync(join(at, 'report.json')) ? (JSON.parse(readFileSync(join(at, 'report.json'), 'utf8')) as Report) : undefined;
    return { result, report, data, cgroup, at };
  }

  it('assembles the root, runs the onboot action, starts the services and tells the supervisor each step, in the cgroup, leaving no mount behind', async () => {
    const { result, report, data, cgroup, at } = await start({});
    expect(result.stderr).not.toMatch(SANITIZER);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(report).toBeDefined();
    expect(report!.root).toBe('ok');
    expect(report!.onboot.prep).toMatchObject({ exitCode: 0 });
    expect(report!.topFile).toBe('from the top image\n');
    // The onboot action wrote through /var/lib into the data store.
    expect(readFileSync(join(data, 'prepared'), 'utf8')).toBe('prepared\n');
    expect(report!.prepared).toBe('prepared\n');
    expect(Object.keys(report!.started).sort()).toEqual(['quitter', 'sleeper']);
    expect(report!.exits.quitter).toEqual({ code: 3, signal: null });
    expect(report!.exits.sleeper).toEqual({ code: null, signal: 'SIGTERM' });
    // Every stream starts with its source line, as the log daemon's ingest expects.
    expect(report!.logs.sort()).toEqual(['prep\nprep warns\n', 'prep.out\nprep says hello\n', 'quitter\n', 'quitter.out\n/var/lib\n', 'sleeper\n', 'sleeper.out\nsleeper up\n'].sort());
    expect(report!.notUnderstood).toEqual([]);
    // Started after the cgroups were joined, at a low priority until it says otherwise.
    expect(report!.cgroup).toContain(cgroup.replace(/^\/sys\/fs\/cgroup(\/pids)?/, ''));
    expect(report!.nice).toBe(19);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(at);
  });

  it('stops at a failing onboot action: its exit code is told, no service starts, every log stream ends', async () => {
    const yaml = STOCK.replace('echo prepared > /var/lib/prepared;', 'echo cannot prepare >&2; exit 4;');
    const { result, report } = await start({ yaml });
    expect(result.stderr).not.toMatch(SANITIZER);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(report!.onboot.prep).toMatchObject({ exitCode: 4 });
    expect(report!.started).toEqual({});
    expect(report!.logs).toContain('prep\ncannot prepare\n');
  });

  it('tells why the root could not be assembled, and starts nothing', async () => {
    const { result, report } = await start({ lower: `${top}:${join(dir, 'no-such-image')}` });
    expect(result.stderr).not.toMatch(SANITIZER);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(report!.root).toMatch(/^the LinuxKit root could not be assembled: cannot mount on .*\/root: No such file or directory$/);
    expect(report!.onboot.prep).toBeUndefined();
    expect(report!.started).toEqual({});
  });

  it('refuses a corrupt boot plan before it makes any namespace, naming the plan and the fault', async () => {
    const good = encodeBootPlan(parseLinuxkit(STOCK, 'test.yml'));
    for (const [plan, fault] of [
      [good.subarray(0, good.length - 3), 'the plan is cut short or has bytes after its end'],
      [Buffer.from('berth-boot-plan-2\0end\0'), 'not a berth boot plan (version 1)'],
      [Buffer.alloc(256 * 1024 + 1, 'a'), 'larger than 262144 bytes'],
      [Buffer.from(good.toString('latin1').replace('prep', 'Prep'), 'latin1'), 'entry 1: a bad name or working directory'],
      [Buffer.from(good.toString('latin1').replace('\x002\x00PATH', '\x0099\x00PATH'), 'latin1'), 'entry 1 (prep): a bad environment or command'],
    ] as const) {
      const { result, report } = await start({ plan });
      expect(result.stderr).not.toMatch(SANITIZER);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^berth-engine-init: the boot plan \\S+boot\\.plan: ${fault.replace(/[()]/g, '\\$&')}$`, 'm'));
      expect(report).toBeUndefined();
    }
  });

  it('says how it is used when an option is unknown', async () => {
    const { result } = await start({ extraArgs: ['--no-such-option', 'x'] });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('berth-engine-init: unknown or repeated too often: --no-such-option');
  });
});
