import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLinuxkit } from '../../bootstrap-distro/agent/linuxkit-yaml.js';
import { readCompiledLinuxkit } from '../../bootstrap-distro/agent/linuxkit.js';
import { BASE_ENGINE_CONFIG } from '../../installer/engine-config/store.js';

const REPO = join(import.meta.dirname, '../..');
const yaml = (services: string, top = '') => `init: [berth/system, berth/version-pack]\n${top}services:\n${services}`;

describe('the LinuxKit YAML', () => {
  it("accepts Berth's own berth.yml, and honours cwd", () => {
    const config = parseLinuxkit(readFileSync(join(REPO, 'bootstrap-distro/linuxkit/berth.yml'), 'utf8'), 'berth.yml');
    expect(config.services.map((s) => s.name)).toEqual(['containerd', 'dockerd']);
    expect(parseLinuxkit(yaml('  - name: a\n    command: [/bin/true]\n    cwd: /var/lib\n'), 'x.yml').services[0]!.cwd).toBe('/var/lib');
  });

  it('refuses each field it cannot honour, naming the field and why', () => {
    const cases: Array<[string, RegExp]> = [
      ['    capabilities: [CAP_NET_ADMIN]\n', /services\.0\.capabilities: only \[all\] is supported/],
      ['    binds: ["/etc:/etc"]\n', /services\.0\.binds: binds are not supported/],
      ['    net: new\n', /services\.0\.net: only 'host' is supported/],
      ['    pid: /proc/1/ns/pid\n', /services\.0\.pid: only 'host' is supported/],
      ['    image: docker.io/library/nginx\n', /services\.0\.image: "docker\.io\/library\/nginx" is not one of the root's images \(init: berth\/system, berth\/version-pack\)/],
      ['    rootfsPropagation: shared\n', /unknown key rootfsPropagation/],
      ['    cwd: relative\n', /services\.0\.cwd: an absolute path/],
    ];
    for (const [extra, message] of cases) {
      expect(() => parseLinuxkit(yaml(`  - name: a\n    command: [/bin/true]\n${extra}`), 'x.yml'), extra).toThrow(message);
    }
  });

  it('refuses unknown top-level sections and reports every problem at once', () => {
    expect(() => parseLinuxkit(yaml('  - name: a\n    command: [/bin/true]\n', 'onshutdown: []\n'), 'x.yml')).toThrow(/x\.yml: .*unknown key onshutdown/);
    const both = () => parseLinuxkit(yaml('  - name: A\n    command: []\n'), 'x.yml');
    expect(both).toThrow(/services\.0\.name: a lower-case name.*; services\.0\.command: needs at least the program to run/);
  });

  it('says where bad YAML is, with the parser error kept as the cause', () => {
    let error: Error | undefined;
    try {
      parseLinuxkit('services: [\n', 'x.yml');
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(/^x\.yml: not valid YAML/);
    expect(error?.cause).toBeDefined();
  });

  it("takes a file's contents from a file beside it (source), never both, never a path elsewhere", () => {
    const files = (entry: string) => parseLinuxkit(`files:\n  - path: etc/x\n${entry}`, 'x.yml');
    expect(files('    source: x.json\n').files[0]!.source).toBe('x.json');
    expect(() => files('    source: x.json\n    contents: "{}"\n')).toThrow(/files\.0: contents or source, not both/);
    expect(() => files('    source: ../../etc/shadow\n')).toThrow(/files\.0\.source: a file name beside the YAML/);
  });

  it('puts the daemon.json the manager merges over into the system image (one file, named by berth.yml)', () => {
    const config = parseLinuxkit(readFileSync(join(REPO, 'bootstrap-distro/linuxkit/berth.yml'), 'utf8'), 'berth.yml');
    const entry = config.files.find((f) => f.path === 'etc/docker/daemon.json');
    expect(join(REPO, 'bootstrap-distro/linuxkit', entry!.source!)).toBe(BASE_ENGINE_CONFIG);
    expect(JSON.parse(readFileSync(BASE_ENGINE_CONFIG, 'utf8'))).toMatchObject({ mtu: 65520 });
  });

  it('reads the compiled JSON the supervisor starts from as the YAML it came from, and checks it again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-linuxkit-'));
    try {
      const config = parseLinuxkit(readFileSync(join(REPO, 'bootstrap-distro/linuxkit/berth.yml'), 'utf8'), 'berth.yml');
      writeFileSync(join(dir, 'good.json'), JSON.stringify(config));
      expect(await readCompiledLinuxkit(join(dir, 'good.json'))).toEqual(config);
      writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...config, services: [{ name: 'x', command: [] }] }));
      await expect(readCompiledLinuxkit(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: services\.0\.command: needs at least the program to run/);
      writeFileSync(join(dir, 'torn.json'), '{"services": [');
      await expect(readCompiledLinuxkit(join(dir, 'torn.json'))).rejects.toThrow(/torn\.json: not the system image's compiled config .*rebuild the images/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
