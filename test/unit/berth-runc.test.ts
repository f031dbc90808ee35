import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_BOTH_TIMEOUT_MS, buildBoth, nativeBuilds } from '../helpers/native-builds.js';

// berth-runc as containerd's shim and BuildKit run it, against a bundle on disk and a
// stand-in for the real runc that records its arguments. Once with the static build the
// system image ships, once built with ASan/UBSan (a report fails the run: exit code 1).
const builds = nativeBuilds('berth-runc');

beforeAll(buildBoth, BUILD_BOTH_TIMEOUT_MS);

const HOST_BUNDLE = '-----BEGIN CERTIFICATE-----\nHOST\n-----END CERTIFICATE-----\n';
const IMAGE_BUNDLE = '-----BEGIN CERTIFICATE-----\nIMAGE\n-----END CERTIFICATE-----';
const IN_CONTAINER = '/dev/berth/ca-certificates.crt';

interface Spec {
  root: { path: string };
  process: { env: string[] };
  mounts: Array<{ destination: string; type?: string; source?: string; options?: string[] }>;
}

/** What containerd writes for `docker run` (its defaults: /proc, a /dev tmpfs…). */
function containerdSpec(env: string[] = [], extraMounts: Spec['mounts'] = []): Spec {
  return {
    root: { path: 'rootfs' },
    process: { env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=abc', ...env] },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/etc/hosts', type: 'bind', source: '/var/lib/docker/containers/abc/hosts', options: ['rbind', 'rprivate'] },
      ...extraMounts,
    ],
  };
}

describe.each(builds)('berth-runc ($name)', ({ binary }) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-runc-'));
  const state = join(dir, 'state');
  const fakeRunc = join(dir, 'runc');
  const argsFile = join(dir, 'args');
  let n = 0;

  beforeAll(() => {
    mkdirSync(state);
    writeFileSync(join(state, 'ca-certificates.crt'), HOST_BUNDLE);
    writeFileSync(join(state, 'containers-trust-host-cas'), 'on\n');
    writeFileSync(fakeRunc, `#!/bin/sh\nprintf '%s\\n' "$0" "$@" > '${argsFile}'\nexit 7\n`);
    chmodSync(fakeRunc, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A bundle with `spec` (a string as is) and an image root holding `files`. */
  function bundle(spec: Spec | string, files: Record<string, string> = {}): string {
    const b = join(dir, `bundle-${++n}`);
    mkdirSync(join(b, 'rootfs/etc'), { recursive: true });
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(b, 'rootfs', path, '..'), { recursive: true });
      writeFileSync(join(b, 'rootfs', path), text);
    }
    writeFileSync(join(b, 'config.json'), typeof spec === 'string' ? spec : JSON.stringify(spec), { mode: 0o600 });
    chmodSync(join(b, 'config.json'), 0o600);
    return b;
  }

  async function runc(args: string[]) {
    rmSync(argsFile, { force: true });
    const r = await execa(binary, args, { reject: false, env: { BERTH_RUNC_STATE_DIR: state, BERTH_RUNC_REAL: fakeRunc } });
    return { ...r, ranWith: readFileSync(argsFile, 'utf8').trim().split('\n') };
  }
  const specOf = (b: string) => JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')) as Spec;
  const added = (b: string) => specOf(b).mounts.slice(3);

  it("mounts a merged bundle over the image's own and under /dev for a container, and hands over every argument unchanged", async () => {
    const b = bundle(containerdSpec(), { 'etc/ssl/certs/ca-certificates.crt': IMAGE_BUNDLE });
    const args = ['--root', '/run/docker/runtime-runc/moby', '--log', '/x/log.json', '--log-format', 'json', 'create', '--bundle', b, '--pid-file', '/x/pid', 'abc'];
    const r = await runc(args);
    expect(r.exitCode, r.stderr).toBe(7); // the real runc's own exit code
    expect(r.stderr).toBe('');
    expect(r.ranWith).toEqual([fakeRunc, ...args]);
    const merged = join(b, 'berth-ca-0.crt');
    expect(readFileSync(merged, 'utf8')).toBe(`${IMAGE_BUNDLE}\n${HOST_BUNDLE}`);
    expect(statSync(merged).mode & 0o777).toBe(0o644);
    expect(statSync(join(b, 'config.json')).mode & 0o777).toBe(0o600);
    expect(added(b)).toEqual([
      { destination: IN_CONTAINER, type: 'bind', source: merged, options: ['rbind', 'ro', 'nosuid', 'nodev'] },
      { destination: '/etc/ssl/certs/ca-certificates.crt', type: 'bind', source: merged, options: ['rbind', 'ro', 'nosuid', 'nodev'] },
    ]);
    // OpenSSL already reads the merged file; Node and Python's requests carry bundles of their own.
    expect(specOf(b).process.env.slice(2)).toEqual([`NODE_EXTRA_CA_CERTS=${IN_CONTAINER}`, `REQUESTS_CA_BUNDLE=${IN_CONTAINER}`]);
  });

  it('gives a build step (runc run) the variables only, so update-ca-certificates can still rename over the bundle', async () => {
    const b = bundle(containerdSpec(), { 'etc/pki/tls/certs/ca-bundle.crt': `${IMAGE_BUNDLE}\n` });
    const r = await runc(['run', '--bundle', b, 'step']);
    expect(r.exitCode, r.stderr).toBe(7);
    const merged = join(b, 'berth-ca-1.crt');
    expect(readFileSync(merged, 'utf8')).toBe(`${IMAGE_BUNDLE}\n${HOST_BUNDLE}`);
    expect(added(b)).toEqual([{ destination: IN_CONTAINER, type: 'bind', source: merged, options: ['rbind', 'ro', 'nosuid', 'nodev'] }]);
    expect(specOf(b).process.env.slice(2)).toEqual([`SSL_CERT_FILE=${IN_CONTAINER}`, `NODE_EXTRA_CA_CERTS=${IN_CONTAINER}`, `REQUESTS_CA_BUNDLE=${IN_CONTAINER}`]);
  });

  it("gives an image without a bundle the host's, by the variables; a variable the container sets wins", async () => {
    const b = bundle(containerdSpec(['SSL_CERT_FILE=/mine.pem']));
    const r = await runc(['create', '-b', b, 'abc']);
    expect(r.exitCode, r.stderr).toBe(7);
    expect(added(b)).toEqual([{ destination: IN_CONTAINER, type: 'bind', source: join(state, 'ca-certificates.crt'), options: ['rbind', 'ro', 'nosuid', 'nodev'] }]);
    expect(specOf(b).process.env.slice(2)).toEqual(['SSL_CERT_FILE=/mine.pem', `NODE_EXTRA_CA_CERTS=${IN_CONTAINER}`, `REQUESTS_CA_BUNDLE=${IN_CONTAINER}`]);
  });

  it('leaves a container that says BERTH_HOST_CAS=off as it is, and gives one that says =env the variables only', async () => {
    const off = bundle(containerdSpec(['BERTH_HOST_CAS=off']), { 'etc/ssl/certs/ca-certificates.crt': IMAGE_BUNDLE });
    const before = readFileSync(join(off, 'config.json'), 'utf8');
    expect((await runc(['create', '--bundle', off, 'a'])).exitCode).toBe(7);
    expect(readFileSync(join(off, 'config.json'), 'utf8')).toBe(before);
    const env = bundle(containerdSpec(['BERTH_HOST_CAS=env']), { 'etc/ssl/certs/ca-certificates.crt': IMAGE_BUNDLE });
    expect((await runc(['create', '--bundle', env, 'b'])).exitCode).toBe(7);
    expect(added(env).map((m) => m.destination)).toEqual([IN_CONTAINER]);
    expect(specOf(env).process.env).toContain(`SSL_CERT_FILE=${IN_CONTAINER}`);
  });

  it('changes nothing while containersTrustHostCAs is off (no flag file)', async () => {
    const b = bundle(containerdSpec(), { 'etc/ssl/certs/ca-certificates.crt': IMAGE_BUNDLE });
    const before = readFileSync(join(b, 'config.json'), 'utf8');
    rmSync(join(state, 'containers-trust-host-cas'));
    try {
      const r = await runc(['create', '--bundle', b, 'abc']);
      expect(r.exitCode).toBe(7);
      expect(readFileSync(join(b, 'config.json'), 'utf8')).toBe(before);
    } finally {
      writeFileSync(join(state, 'containers-trust-host-cas'), 'on\n');
    }
  });

  it("never reads outside the image's root: a bundle that is a symlink out of it is resolved inside", async () => {
    const secret = join(dir, 'secret.txt');
    writeFileSync(secret, 'NOT FOR CONTAINERS');
    const b = bundle(containerdSpec());
    mkdirSync(join(b, 'rootfs/etc/ssl/certs'), { recursive: true });
    symlinkSync(secret, join(b, 'rootfs/etc/ssl/certs/ca-certificates.crt'));
    symlinkSync(`../../../../../../../../..${secret}`, join(b, 'rootfs/etc/ssl/ca-bundle.pem'));
    expect((await runc(['create', '--bundle', b, 'abc'])).exitCode).toBe(7);
    expect(added(b).map((m) => m.source)).toEqual([join(state, 'ca-certificates.crt')]);
    expect(readFileSync(join(b, 'config.json'), 'utf8')).not.toContain('NOT FOR CONTAINERS');
  });

  it("leaves a bundle under a mount of the container's own (-v …:/etc/ssl) alone", async () => {
    const b = bundle(containerdSpec([], [{ destination: '/etc/ssl/', type: 'bind', source: '/somewhere', options: ['rbind'] }]), { 'etc/ssl/certs/ca-certificates.crt': IMAGE_BUNDLE });
    expect((await runc(['create', '--bundle', b, 'abc'])).exitCode).toBe(7);
    expect(added(b).slice(1)).toEqual([{ destination: IN_CONTAINER, type: 'bind', source: join(state, 'ca-certificates.crt'), options: ['rbind', 'ro', 'nosuid', 'nodev'] }]);
  });

  it('reads a pretty-printed spec (runc spec) and keeps it valid JSON', async () => {
    const b = bundle('x');
    rmSync(join(b, 'config.json'));
    await execa('runc', ['spec'], { cwd: b });
    const r = await runc(['--debug', 'run', `--bundle=${b}`, 'abc']);
    expect(r.exitCode, r.stderr).toBe(7);
    expect(specOf(b).process.env).toContain(`SSL_CERT_FILE=${IN_CONTAINER}`);
    expect(added(b).at(-1)?.destination).toBe(IN_CONTAINER);
  });

  it('fails open: a spec it cannot read is said on stderr and the container still starts, unchanged', async () => {
    const b = bundle('{"root": {"path": "rootfs"}, "process": {"env": ["A=1",]}}');
    const r = await runc(['create', '--bundle', b, 'abc']);
    expect(r.exitCode).toBe(7);
    expect(r.stderr).toBe(`berth-runc: config.json is not a spec it can read: ${b}; the container starts without the host's CAs`);
    expect(readFileSync(join(b, 'config.json'), 'utf8')).toBe('{"root": {"path": "rootfs"}, "process": {"env": ["A=1",]}}');
  });

  it('runs every other command (start, exec, --version…) straight through', async () => {
    const b = bundle(containerdSpec(), { 'etc/ssl/certs/ca-certificates.crt': IMAGE_BUNDLE });
    const before = readFileSync(join(b, 'config.json'), 'utf8');
    for (const args of [['start', 'abc'], ['--version'], ['exec', '--process', join(b, 'config.json'), 'abc']]) {
      const r = await runc(args);
      expect(r.ranWith).toEqual([fakeRunc, ...args]);
    }
    expect(readFileSync(join(b, 'config.json'), 'utf8')).toBe(before);
  });
});
