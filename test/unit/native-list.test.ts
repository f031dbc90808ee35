import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWslOutput } from '../../wsl-host/decode.js';
import { formatVerbose } from '../../wsl-host/linux/list-format.js';
import { HostLayout } from '../../wsl-host/linux/config.js';
import { encodeInitId, encodeListRecord } from '../../wsl-host/linux/list-record.js';
import { fileIdentity } from '../../common/file-identity.js';
import { liveStartTime } from '../../common/process.js';
import type { RegistryFile } from '../../wsl-host/linux/registry.js';
import { BUILD_BOTH_TIMEOUT_MS, buildBoth, nativeBuilds } from '../helpers/native-builds.js';

// berth-wsl's native `-l -v` (wsl-host/native/wsl-entry.c) against a WSL root made by hand:
// its answer must be the Node program's to the byte, and anything it cannot vouch for is
// left to Node. PATH holds no node here, so "left to Node" shows as "cannot run node".
// Once with the static build, once with ASan/UBSan (a report fails the run).
const builds = nativeBuilds('berth-init');

beforeAll(buildBoth, BUILD_BOTH_TIMEOUT_MS);

const REGISTRY: RegistryFile = {
  defaultId: 'id-ubuntu',
  distros: [
    { id: 'id-berth', name: 'berth', basePath: '/x/berth', version: 2, vhd: false, state: 'Installed' },
    { id: 'id-ubuntu', name: 'Ubuntu-22.04', basePath: '/x/ubuntu', version: 2, vhd: false, state: 'Installed' },
    { id: 'id-legacy', name: 'old', basePath: '/x/old', version: 1, vhd: false, state: 'Installed' },
  ],
};

describe.each(builds)('native -l -v ($name)', ({ binary }) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-native-list-'));
  const layout = new HostLayout(root);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const list = (env: Record<string, string> = {}) =>
    execa(binary, ['-l', '-v'], { argv0: 'berth-wsl', reject: false, encoding: 'buffer', stripFinalNewline: false, env: { BERTH_WSL_ROOT: root, WSL_UTF8: '1', PATH: '/nonexistent', ...env }, extendEnv: false });

  /** Writes registry.json and the record made from it; `running` distros get this process as their init. */
  async function world(reg: RegistryFile, running: string[], recordMode = 0o600): Promise<void> {
    writeFileSync(layout.registryFile, JSON.stringify(reg));
    rmSync(layout.runDir, { recursive: true, force: true });
    for (const id of running) {
      mkdirSync(layout.distroRunDir(id), { recursive: true });
      writeFileSync(layout.initIdFile(id), encodeInitId({ pid: process.pid, startTime: (await liveStartTime(process.pid))! }), { mode: 0o600 });
    }
    writeFileSync(
      layout.listRecord,
      encodeListRecord(await fileIdentity(layout.registryFile), reg, (id) => layout.initIdFile(id)),
      { mode: recordMode },
    );
    chmodSync(layout.listRecord, recordMode);
  }

  const asNode = (rows: Array<{ name: string; state: string; version: number; isDefault: boolean }>) => encodeWslOutput(formatVerbose(rows), true);

  it("prints Node's table to the byte: widths, the default's mark, Running from a live init, CRLF", async () => {
    await world(REGISTRY, ['id-ubuntu']);
    const r = await list();
    expect(Buffer.from(r.stderr).toString()).toBe('');
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout).toString()).toBe(
      asNode([
        { name: 'berth', state: 'Stopped', version: 2, isDefault: false },
        { name: 'Ubuntu-22.04', state: 'Running', version: 2, isDefault: true },
        { name: 'old', state: 'Stopped', version: 1, isDefault: false },
      ]).toString(),
    );
  });

  it('prints -l --running -q and -l -q as Node does: names, one a line; nothing when none runs', async () => {
    await world(REGISTRY, ['id-ubuntu', 'id-legacy']);
    const names = async (args: string[]) => {
      const r = await execa(binary, args, { argv0: 'berth-wsl', reject: false, stripFinalNewline: false, env: { BERTH_WSL_ROOT: root, WSL_UTF8: '1', PATH: '/nonexistent' }, extendEnv: false });
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      return r.stdout;
    };
    expect(await names(['--list', '--running', '--quiet'])).toBe('Ubuntu-22.04\r\nold\r\n');
    expect(await names(['-l', '-q'])).toBe('berth\r\nUbuntu-22.04\r\nold\r\n');
    await world(REGISTRY, []);
    expect(await names(['-l', '-q', '--running'])).toBe('');
  });

  it('says Stopped for an init that is gone (its pid reused or not), and --list --verbose is the same', async () => {
    await world(REGISTRY, []);
    mkdirSync(layout.distroRunDir('id-berth'), { recursive: true });
    writeFileSync(layout.initIdFile('id-berth'), encodeInitId({ pid: process.pid, startTime: '1' }), { mode: 0o600 });
    const r = await execa(binary, ['--list', '--verbose'], { argv0: 'berth-wsl', reject: false, env: { BERTH_WSL_ROOT: root, WSL_UTF8: '1', PATH: '/nonexistent' }, extendEnv: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^ {2}berth\s+Stopped\s+2\r$/m);
  });

  const leftToNode = async (why: string) => {
    const r = await list();
    expect(r.exitCode, why).not.toBe(0);
    expect(Buffer.from(r.stderr).toString(), why).toContain('cannot run node');
  };

  it('leaves to Node: a registry.json changed since the record, an import under way, a record others may write, a torn record, UTF-16 output', async () => {
    await world(REGISTRY, []);
    writeFileSync(layout.registryFile, JSON.stringify(REGISTRY) + '\n');
    await leftToNode('registry.json changed');

    await world({ ...REGISTRY, distros: [...REGISTRY.distros, { id: 'id-new', name: 'new', basePath: '/x/new', version: 2, vhd: false, state: 'Installing' }] }, []);
    await leftToNode('an import under way');

    await world(REGISTRY, [], 0o620);
    await leftToNode('a record its group may write');

    await world(REGISTRY, []);
    writeFileSync(layout.listRecord, 'berth-list 1\0', { mode: 0o600 });
    await leftToNode('a torn record');

    await world(REGISTRY, []);
    const utf16 = await list({ WSL_UTF8: '0' });
    expect(Buffer.from(utf16.stderr).toString()).toContain('cannot run node');
  });

  it('leaves to Node an init.json without init.id (a distro started by an older Berth)', async () => {
    await world(REGISTRY, []);
    mkdirSync(layout.distroRunDir('id-berth'), { recursive: true });
    writeFileSync(join(layout.distroRunDir('id-berth'), 'init.json'), '{}');
    await leftToNode('init.json alone');
  });
});
