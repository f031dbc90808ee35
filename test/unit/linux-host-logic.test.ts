import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sharedAreaHostPath } from '../../wsl-host/connect.js';
import { parseWslArgs, UsageError } from '../../wsl-host/linux/args.js';
import { hostPathToDistro, parseDrives, windowsPathToDistro } from '../../common/drives.js';
import { parseCpuList } from '../../wsl-host/linux/cpu-affinity.js';
import { compressionFlag } from '../../wsl-host/linux/importer.js';
import { formatVerbose } from '../../wsl-host/linux/list-format.js';
import { parseListVerbose } from '../../wsl-host/parse.js';
import { resolveUser } from '../../common/passwd.js';
import { hostnameFor } from '../../wsl-host/linux/runtime.js';
import { planSession, SessionError } from '../../wsl-host/linux/session.js';
import { DEFAULT_WSL_CONF, parseWslConf } from '../../common/wsl-conf.js';
import { DEFAULT_WSL_ROOT, drivesFromEnv, wslRootFromEnv } from '../../wsl-host/linux/config.js';
import { sharedAreaOnHost } from '../../installer/wsl.js';
import { sharedDrives } from '../../installer/host-endpoint.js';
import { settingsSchema } from '../../installer/settings.js';

describe("wsl.exe's command line", () => {
  it('parses management verbs', () => {
    expect(parseWslArgs(['--import', 'a', '/d', 'f.tar', '--version', '2', '--vhd'])).toEqual({
      kind: 'import',
      name: 'a',
      installDir: '/d',
      source: 'f.tar',
      version: 2,
      vhd: true,
    });
    expect(parseWslArgs(['-l', '-v'])).toEqual({ kind: 'list', verbose: true, quiet: false, running: false, all: false });
    expect(parseWslArgs(['--list', '--running', '--quiet'])).toMatchObject({ running: true, quiet: true });
    expect(parseWslArgs(['-t', 'x'])).toEqual({ kind: 'terminate', name: 'x' });
    expect(parseWslArgs(['--set-default', 'x'])).toEqual({ kind: 'set-default', name: 'x' });
  });

  it('parses run forms: --exec keeps argv, -- and bare words go to the shell, nothing is a login shell', () => {
    expect(parseWslArgs(['-d', 'u', '-u', 'me', '--cd', '~', '--exec', 'ls', '-la'])).toEqual({
      kind: 'run',
      distro: 'u',
      user: 'me',
      cwd: '~',
      mode: { kind: 'exec', argv: ['ls', '-la'] },
    });
    expect(parseWslArgs(['-d', 'u', '--', 'echo', '$HOME'])).toMatchObject({ mode: { kind: 'shell', command: 'echo $HOME' } });
    expect(parseWslArgs(['uname', '-a'])).toMatchObject({ mode: { kind: 'shell', command: 'uname -a' } });
    expect(parseWslArgs(['-d', 'u'])).toMatchObject({ mode: { kind: 'login' } });
  });

  it('rejects what wsl.exe rejects, naming the argument', () => {
    expect(() => parseWslArgs(['--import', 'a'])).toThrow(UsageError);
    expect(() => parseWslArgs(['--bogus'])).toThrow(/--bogus/);
    expect(() => parseWslArgs(['-l', '--nope'])).toThrow(/--nope/);
    expect(() => parseWslArgs(['--import', 'a', '/d', 'f', '--version', '3'])).toThrow(/3/);
    expect(() => parseWslArgs(['-d'])).toThrow(UsageError);
  });
});

describe('wsl.conf', () => {
  it('reads automount, boot and user, with comments and quotes', () => {
    const conf = parseWslConf('# c\n[automount]\nenabled = true\nroot = /\n\n[boot]\ncommand="echo hi > /tmp/x"\n[user]\ndefault=me\n');
    expect(conf).toEqual({ automount: { enabled: true, root: '/' }, boot: { command: 'echo hi > /tmp/x' }, user: { default: 'me' }, network: { generateResolvConf: true, generateHosts: true } });
  });

  it('reads [network] generateResolvConf (default true)', () => {
    expect(parseWslConf('[network]\ngenerateResolvConf = false\n').network.generateResolvConf).toBe(false);
    expect(parseWslConf('[network]\ngenerateResolvConf=true').network.generateResolvConf).toBe(true);
    expect(parseWslConf('[boot]\ncommand=x').network.generateResolvConf).toBe(true);
  });

  it('normalises the automount root and defaults to /mnt/', () => {
    expect(parseWslConf('[automount]\nroot=/windir').automount.root).toBe('/windir/');
    expect(parseWslConf('[automount]\nenabled=false').automount).toEqual({ enabled: false, root: '/mnt/' });
    expect(parseWslConf('')).toEqual(DEFAULT_WSL_CONF);
  });
});

describe('users from the distro', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nme:x:1000:1000:Me:/home/me:/bin/zsh\n';
  const group = 'root:x:0:\nme:x:1000:\ndocker:x:999:me,other\nwheel:x:10:\n';

  it('resolves name or uid to ids, supplementary groups, home and shell', () => {
    expect(resolveUser('me', passwd, group)).toEqual({ name: 'me', uid: 1000, gid: 1000, groups: [1000, 999], home: '/home/me', shell: '/bin/zsh' });
    expect(resolveUser('1000', passwd, group)?.name).toBe('me');
    expect(resolveUser('nobody', passwd, group)).toBeUndefined();
  });

  it('knows root even in a distro without /etc/passwd', () => {
    expect(resolveUser('root', '', '')?.uid).toBe(0);
  });
});

describe('drives', () => {
  it('parses BERTH_WSL_DRIVES and refuses bad entries', () => {
    expect(parseDrives('c=/srv/c;D=/data/')).toEqual([
      { letter: 'c', hostPath: '/srv/c' },
      { letter: 'd', hostPath: '/data' },
    ]);
    expect(() => parseDrives('c=relative')).toThrow(/LETTER=\/absolute/);
    expect(() => parseDrives('c=/a;c=/b')).toThrow(/twice/);
  });

  it('translates host and Windows paths to the distro view', () => {
    const drives = parseDrives('c=/srv/c');
    expect(hostPathToDistro('/srv/c/Users/me', drives, '/mnt/')).toBe('/mnt/c/Users/me');
    expect(hostPathToDistro('/srv/cc', drives, '/mnt/')).toBeUndefined();
    expect(hostPathToDistro('/srv/c', drives, '/')).toBe('/c');
    expect(windowsPathToDistro('C:\\Users\\me', '/mnt/')).toBe('/mnt/c/Users/me');
    expect(windowsPathToDistro('\\\\?\\D:\\x y', '/')).toBe('/d/x y');
    expect(windowsPathToDistro('relative\\path', '/mnt/')).toBeUndefined();
  });
});

describe('planning a session', () => {
  const files = { passwd: 'root:x:0:0::/root:/bin/sh\nme:x:1000:1000::/home/me:/bin/bash\n', group: '', conf: DEFAULT_WSL_CONF };
  const host = { cwd: '/somewhere', env: { TERM: 'xterm', WSLENV: 'FOO:WINPATH/p', FOO: 'bar', WINPATH: '/srv/c/x', SECRET: 's' }, drives: parseDrives('c=/srv/c') };

  it('runs as the default user from wsl.conf, in the home directory, with WSL variables', () => {
    const plan = planSession({ distroName: 'Ubuntu', mode: { kind: 'exec', argv: ['id'] } }, { ...files, conf: parseWslConf('[user]\ndefault=me') }, host);
    expect(plan.user.uid).toBe(1000);
    expect(plan.cwd).toBe('/home/me');
    expect(plan.argv).toEqual(['id']);
    expect(plan.env).toMatchObject({ HOME: '/home/me', USER: 'me', SHELL: '/bin/bash', WSL_DISTRO_NAME: 'Ubuntu', TERM: 'xterm' });
  });

  it('passes only WSLENV-named variables, translating /p paths', () => {
    const plan = planSession({ distroName: 'u', mode: { kind: 'login' } }, files, host);
    expect(plan.env.FOO).toBe('bar');
    expect(plan.env.WINPATH).toBe('/mnt/c/x');
    expect(plan.env.SECRET).toBeUndefined();
    expect(plan.argv).toEqual(['/bin/sh', '-l']);
  });

  it('starts in the drive path of the host cwd, and honours --cd forms', () => {
    const onDrive = { ...host, cwd: '/srv/c/proj' };
    expect(planSession({ distroName: 'u', mode: { kind: 'login' } }, files, onDrive).cwd).toBe('/mnt/c/proj');
    expect(planSession({ distroName: 'u', user: 'me', cwd: '~/src', mode: { kind: 'login' } }, files, host).cwd).toBe('/home/me/src');
    expect(planSession({ distroName: 'u', cwd: 'C:\\w', mode: { kind: 'login' } }, files, host).cwd).toBe('/mnt/c/w');
    expect(() => planSession({ distroName: 'u', cwd: 'rel', mode: { kind: 'login' } }, files, host)).toThrow(SessionError);
  });

  it('runs a shell command line through the user shell and refuses unknown users', () => {
    expect(planSession({ distroName: 'u', user: 'me', mode: { kind: 'shell', command: 'echo $HOME' } }, files, host).argv).toEqual(['/bin/bash', '-c', 'echo $HOME']);
    expect(() => planSession({ distroName: 'u', user: 'ghost', mode: { kind: 'login' } }, files, host)).toThrow(/ghost/);
  });
});

describe('small pieces', () => {
  it('sniffs tarball compression from magic bytes', () => {
    expect(compressionFlag(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]))).toEqual(['-z']);
    expect(compressionFlag(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toEqual(['-J']);
    expect(compressionFlag(Buffer.from('BZh91A'))).toEqual(['-j']);
    expect(compressionFlag(Buffer.from('./etc/'))).toEqual([]);
  });

  it('formats -l -v so that the driver reads it back', () => {
    const text = formatVerbose([
      { name: 'berth', state: 'Running', version: 2, isDefault: true },
      { name: 'old', state: 'Stopped', version: 1, isDefault: false },
    ]);
    expect(parseListVerbose(text)).toEqual([
      { name: 'berth', version: 2, isDefault: true },
      { name: 'old', version: 1, isDefault: false },
    ]);
  });

  it('maps sockets under /mnt/wsl to the host view and refuses others', () => {
    expect(sharedAreaHostPath('/r/run/wsl', '/mnt/wsl/berth/docker.sock')).toBe('/r/run/wsl/berth/docker.sock');
    expect(() => sharedAreaHostPath('/r/run/wsl', '/mnt/wsl/../etc/x')).toThrow(/Only sockets under/);
  });

  it("reads the kernel's CPU lists (the CPUs the VM's namespaces may be made on)", () => {
    expect(parseCpuList('0-1\n')).toEqual([0, 1]);
    expect(parseCpuList('0,2-4,7')).toEqual([0, 2, 3, 4, 7]);
    expect(parseCpuList('5')).toEqual([5]);
    expect(() => parseCpuList('0-a')).toThrow(/not a CPU list: "0-a"/);
  });

  it('derives a valid hostname from a distro name', () => {
    expect(hostnameFor('Ubuntu_22.04')).toBe('Ubuntu-22-04');
  });
});

describe("the Linux WSL host's defaults, one source", () => {
  it('gives the manager the same root, shared area and drives as the host uses, and the native entry the same root', () => {
    expect(wslRootFromEnv({})).toBe('/var/lib/berth-wsl');
    expect(sharedAreaOnHost({ BERTH_WSL_ROOT: '/w' })).toBe('/w/run/wsl');
    expect(drivesFromEnv({ BERTH_WSL_ROOT: '/w' })).toEqual([{ letter: 'c', hostPath: '/w/drives/c' }]);
    expect(sharedDrives(settingsSchema.parse({}), { BERTH_WSL_ROOT: '/w', BERTH_WSL_DRIVES: 'd=/data' })).toEqual({ d: '/data' });
    // C cannot import it: the native `--exec` must fall back to the very same default.
    expect(readFileSync(new URL('../../wsl-host/native/wsl-entry.c', import.meta.url), 'utf8')).toContain(`if (!root || !*root) root = "${DEFAULT_WSL_ROOT}";`);
  });
});
