import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLinuxkit } from '../../bootstrap-distro/agent/linuxkit-yaml.js';
import { iptablesWrapper } from '../../bootstrap-distro/agent/vm-link.js';
import { ENGINE_XTABLES_LOCK, IPTABLES_TOOLS, LEGACY_PROBE_ARGS, LEGACY_XTABLES, NFT_XTABLES } from '../../common/engine-iptables.js';

const REPO = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'berth-engine-iptables-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('engine-iptables.test.ts: the onboot action runs in a chroot, which needs root; skipped');

/** The onboot action `iptables` of berth.yml, as the engine runs it. */
function onbootCommand(): string[] {
  const config = parseLinuxkit(readFileSync(join(REPO, 'bootstrap-distro/linuxkit/berth.yml'), 'utf8'), 'berth.yml');
  const action = config.onboot.find((a) => a.name === 'iptables');
  if (!action) throw new Error('berth.yml has no onboot action "iptables"');
  return action.command;
}

/** A root as the system image lays it out (busybox, the tools linked to legacy), whose legacy probe exits with `probeExit`. */
function imageRoot(name: string, probeExit: number): string {
  const root = join(dir, name);
  for (const d of ['bin', 'dev', 'usr/sbin']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'bin/busybox'), readFileSync('/bin/busybox'), { mode: 0o755 });
  for (const applet of ['sh', 'ln']) symlinkSync('busybox', join(root, 'bin', applet));
  writeFileSync(join(root, 'usr/sbin', LEGACY_XTABLES), `#!/bin/sh\necho "$@" > /probe-args\nexit ${probeExit}\n`);
  chmodSync(join(root, 'usr/sbin', LEGACY_XTABLES), 0o755);
  for (const tool of IPTABLES_TOOLS) symlinkSync(LEGACY_XTABLES, join(root, 'usr/sbin', tool));
  return root;
}

describe("the engine's iptables backend", () => {
  it.skipIf(!isRoot)('stays legacy where the kernel has it, and becomes nf_tables for every tool where it does not', async () => {
    const [file, ...args] = onbootCommand();
    for (const [probeExit, expected] of [
      [0, LEGACY_XTABLES],
      [1, NFT_XTABLES],
    ] as const) {
      const root = imageRoot(`probe-${probeExit}`, probeExit);
      const r = await execa('chroot', [root, file!, ...args], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(readFileSync(join(root, 'probe-args'), 'utf8').trim()).toBe(`iptables ${LEGACY_PROBE_ARGS.join(' ')}`);
      expect(IPTABLES_TOOLS.map((tool) => readlinkSync(join(root, 'usr/sbin', tool)))).toEqual(IPTABLES_TOOLS.map(() => expected));
    }
  });

  it("runs the VM namespace's iptables as nf_tables, the engine's as probed and under the data store's lock, and nothing else", async () => {
    // Stand-ins print what would run: chroot (the VM namespace's) and the image's loader (the engine's).
    const bin = join(dir, 'bin');
    const image = join(dir, 'image');
    mkdirSync(bin, { recursive: true });
    mkdirSync(join(image, 'lib64'), { recursive: true });
    writeFileSync(join(bin, 'chroot'), '#!/bin/sh\necho chroot "$@"\n', { mode: 0o755 });
    writeFileSync(join(image, 'lib64/ld-linux-x86-64.so.2'), '#!/bin/sh\necho "lock=$XTABLES_LOCKFILE libs=$XTABLES_LIBDIR" "$@"\n', { mode: 0o755 });
    const lockFile = '/mnt/wsl/berth/data/berth/xtables.lock';
    const run = async (engineXtables: string, args: string[]) => {
      const wrapper = join(dir, `wrapper-${engineXtables}`);
      writeFileSync(wrapper, iptablesWrapper({ systemImage: image, engineXtables, lockFile }), { mode: 0o700 });
      return execa('sh', [wrapper, ...args], { env: { PATH: `${bin}:${process.env.PATH}` }, reject: false });
    };
    expect((await run(LEGACY_XTABLES, ['iptables', '-t', 'nat', '-S'])).stdout).toBe(`chroot ${image} /usr/sbin/${NFT_XTABLES} iptables -t nat -S`);
    expect((await run(LEGACY_XTABLES, ['iptables-restore', '--noflush'])).stdout).toBe(`chroot ${image} /usr/sbin/${NFT_XTABLES} iptables-restore --noflush`);
    const engineSide = `lock=${lockFile} libs=${image}/usr/lib/x86_64-linux-gnu/xtables --library-path ${image}/lib/x86_64-linux-gnu:${image}/usr/lib/x86_64-linux-gnu`;
    expect((await run(LEGACY_XTABLES, ['engine-iptables-restore', '--noflush'])).stdout).toBe(`${engineSide} ${image}/usr/sbin/${LEGACY_XTABLES} iptables-restore --noflush`);
    expect((await run(NFT_XTABLES, ['engine-iptables', '-S'])).stdout).toBe(`${engineSide} ${image}/usr/sbin/${NFT_XTABLES} iptables -S`);
    const refused = await run(LEGACY_XTABLES, ['iptables-save']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/usage: .* iptables\|iptables-restore\|engine-iptables\|engine-iptables-restore ARGS/);
    expect(() => iptablesWrapper({ systemImage: image, engineXtables: 'sh', lockFile })).toThrow(/not an iptables of the image: sh/);
    expect(() => iptablesWrapper({ systemImage: image, engineXtables: NFT_XTABLES, lockFile: "/x'; reboot" })).toThrow(/not a plain path/);
  });

  it("names one lock for dockerd and the onboot action, in the data store Berth's writers reach", () => {
    const config = parseLinuxkit(readFileSync(join(REPO, 'bootstrap-distro/linuxkit/berth.yml'), 'utf8'), 'berth.yml');
    const lock = `XTABLES_LOCKFILE=/var/lib/${ENGINE_XTABLES_LOCK}`;
    expect(config.services.find((s) => s.name === 'dockerd')?.env).toContain(lock);
    expect(config.onboot.find((a) => a.name === 'iptables')?.env).toContain(lock);
  });
});
