import { createServer, type Server } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWslOutput } from '../../wsl-host/decode.js';
import { onlineCpus } from '../../wsl-host/linux/cpu-affinity.js';
import { makeRootfsDir, makeRootfsImage, makeRootfsTarball } from '../helpers/busybox-distro.js';
import * as tar from 'tar';
import { PrivateMounts } from '../helpers/private-mounts.js';
import { worldProcesses } from '../helpers/world.js';
import { BERTH_WSL, requireRoot, TestWslRoot, until } from '../helpers/wsl-root.js';
import { fill, listVerboseTable, wslStrings } from '../helpers/wsl-strings.js';
import { generatedHosts } from '../../wsl-host/linux/generated-hosts.js';

const run = requireRoot('Linux WSL host');

/** Processes whose command line mentions the test root: what a terminated distro must not leave. */
async function processesUnder(root: string): Promise<string[]> {
  const r = await execa('ps', ['-eo', 'stat=,args='], { reject: false });
  return r.stdout.split('\n').filter((l) => l.includes(root) && !l.trim().startsWith('Z'));
}

describe.runIf(run)('Linux WSL host: import, list, run', () => {
  let t: TestWslRoot;
  let tarball: string;

  beforeAll(async () => {
    t = new TestWslRoot();
    tarball = await makeRootfsTarball(t.root, 'ubuntu');
    const r = await t.wsl(['--import', 'Ubuntu', join(t.root, 'distros/Ubuntu'), tarball, '--version', '2']);
    expect(r.stdout).toContain('The operation completed successfully.');
    expect(r.exitCode).toBe(0);
  });
  afterAll(async () => t?.cleanup());

  it('lists the imported distro as wsl.exe does, UTF-16LE unless WSL_UTF8=1', async () => {
    const raw = await t.wslBytes(['-l', '-v'], { WSL_UTF8: '' });
    expect(raw.subarray(0, 4)).toEqual(Buffer.from('  ', 'utf16le'));
    const text = decodeWslOutput(raw);
    expect(text).toMatch(/^\* Ubuntu\s+(Stopped|Running)\s+2$/m);
    expect((await t.wsl(['-l', '-q'])).stdout.trim()).toBe('Ubuntu');
    expect((await t.wsl(['-l'])).stdout).toContain('Ubuntu (Default)');
  });

  it("runs commands as root or as a user from the distro's own /etc/passwd, with its groups", async () => {
    expect((await t.wsl(['-d', 'Ubuntu', '--exec', 'id', '-u'])).stdout.trim()).toBe('0');
    const me = await t.wsl(['-d', 'Ubuntu', '-u', 'me', '--exec', 'sh', '-c', 'id; pwd; echo $HOME:$USER:$WSL_DISTRO_NAME']);
    expect(me.stdout).toContain('uid=1000(me) gid=1000(me) groups=999(docker),1000(me)');
    expect(me.stdout).toContain('/home/me\n/home/me:me:Ubuntu');
    const unknown = await t.wsl(['-d', 'Ubuntu', '-u', 'ghost', '--exec', 'true']);
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toContain('ghost');
  });

  it('gives each distro its own hostname, pid namespace and root, with nothing of the host', async () => {
    expect((await t.wsl(['-d', 'Ubuntu', '--exec', 'hostname'])).stdout.trim()).toBe('Ubuntu');
    const ps = await t.wsl(['-d', 'Ubuntu', '--exec', 'ps', '-o', 'pid,args']);
    expect(ps.stdout).toMatch(/^\s*1 \/?\S*berth-init pid1/m);
    expect(ps.stdout).not.toMatch(/vitest|node /);
    const ls = await t.wsl(['-d', 'Ubuntu', '--exec', 'ls', '/']);
    expect(ls.stdout.split('\n')).not.toContain('work');
    expect(ls.stdout.split('\n')).not.toContain('usr'); // the busybox distro has no /usr; the host has
    const mounts = (await t.wsl(['-d', 'Ubuntu', '--exec', 'cat', '/proc/self/mounts'])).stdout;
    expect(mounts).not.toContain(t.root);
  });

  it('passes exit codes, stdin, --cd, shell command lines and WSLENV variables through', async () => {
    expect((await t.wsl(['-d', 'Ubuntu', '--exec', 'sh', '-c', 'exit 7'])).exitCode).toBe(7);
    expect((await t.wsl(['-d', 'Ubuntu', '--exec', 'sh', '-c', 'kill -TERM $$'])).exitCode).toBe(128 + 15);
    expect((await t.wsl(['-d', 'Ubuntu', '--exec', 'tr', 'a-z', 'A-Z'], { input: 'streamed\n' })).stdout).toBe('STREAMED');
    expect((await t.wsl(['-d', 'Ubuntu', '--cd', '/tmp', '--exec', 'pwd'])).stdout.trim()).toBe('/tmp');
    expect((await t.wsl(['-d', 'Ubuntu', '-u', 'me', '--', 'echo', '$HOME'])).stdout.trim()).toBe('/home/me');
    const env = await t.wsl(['-d', 'Ubuntu', '--exec', 'sh', '-c', 'echo "$PASSED|$NOTPASSED"'], {
      env: { WSLENV: 'PASSED', PASSED: 'yes', NOTPASSED: 'no' },
    });
    expect(env.stdout.trim()).toBe('yes|');
    // The Linux WSL host's Node half does not parse NODE_EXTRA_CA_CERTS (Node would warn about
    // this missing file at its start), and a distro whose WSLENV names it still gets it.
    const ca = await t.wsl(['-d', 'Ubuntu', '--exec', 'sh', '-c', 'echo "$NODE_EXTRA_CA_CERTS|$BERTH_NODE_EXTRA_CA_CERTS"'], {
      env: { WSLENV: 'NODE_EXTRA_CA_CERTS', NODE_EXTRA_CA_CERTS: '/no/such/corp ca.pem' },
    });
    expect(ca.stdout.trim()).toBe('/no/such/corp ca.pem|');
    expect(ca.stderr).not.toMatch(/Ignoring extra certs/);
    const missing = await t.wsl(['-d', 'Ubuntu', '--exec', 'no-such-program']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('execvpe(no-such-program) failed: No such file or directory');
  });

  it('runs --exec into a running distro without Node, exactly as the full path would, until something it depends on changes', async () => {
    const probe = ['sh', '-c', 'id; pwd; env | sort'];
    const drive = join(t.root, 'drives/c/project');
    mkdirSync(drive, { recursive: true });
    const call = (env: Record<string, string> = {}) => t.wsl(['-d', 'Ubuntu', '-u', 'me', '--exec', ...probe], { cwd: drive, env });
    const full = await call({ BERTH_WSL_FAST_EXEC: '0' });
    expect(full.stdout).toContain('/mnt/c/project\n');
    await call(); // leaves the exec record
    const fast = await call();
    expect(fast.stdout).toBe(full.stdout);

    // The process a caller waits on is berth-init itself, not Node.
    const child = execa(BERTH_WSL, ['-d', 'Ubuntu', '--exec', 'sleep', '3'], { env: t.env, reject: false });
    await until(async () => existsSync(`/proc/${child.pid}/exe`), 2_000, 20);
    expect(readlinkSync(`/proc/${child.pid}/exe`)).toMatch(/\/berth-init$/);
    expect((await child).exitCode).toBe(0);

    // A command's own 250 is its exit code, once: not "the distro is gone, attach again".
    const counted = (env: Record<string, string>) => t.wsl(['-d', 'Ubuntu', '--exec', 'sh', '-c', 'echo x >> /tmp/runs; exit 250'], { env });
    expect((await counted({ BERTH_WSL_FAST_EXEC: '0' })).exitCode).toBe(250);
    expect((await counted({})).exitCode).toBe(250);
    expect((await t.wsl(['-d', 'Ubuntu', '--exec', 'wc', '-l', '/tmp/runs'])).stdout.trim()).toBe('2 /tmp/runs');

    // A changed /etc/passwd, a restarted distro: the next call sees them.
    await t.wsl(['-d', 'Ubuntu', '--exec', 'sh', '-c', 'sed -i "s#:/home/me:#:/tmp:#" /etc/passwd']);
    expect((await t.wsl(['-d', 'Ubuntu', '-u', 'me', '--exec', 'sh', '-c', 'echo $HOME'])).stdout.trim()).toBe('/tmp');
    await t.wsl(['-d', 'Ubuntu', '--exec', 'sh', '-c', 'sed -i "s#:/tmp:#:/home/me:#" /etc/passwd']);
    expect((await t.wsl(['-d', 'Ubuntu', '-u', 'me', '--exec', 'sh', '-c', 'echo $HOME'])).stdout.trim()).toBe('/home/me');
    const initStart = async () => (await t.wsl(['-d', 'Ubuntu', '--exec', 'cut', '-d', ' ', '-f', '22', '/proc/1/stat'])).stdout.trim();
    const before = await initStart();
    expect(await initStart()).toBe(before);
    expect((await t.wsl(['--terminate', 'Ubuntu'])).exitCode).toBe(0);
    expect(await initStart()).not.toBe(before); // started again, not attached to a stale record
  });

  // Berth's CLI boots its distros while the backend loads, and the backend's first calls may
  // come while a boot holds the distro's start lock: those wait for it natively and attach
  // with the record the booting call leaves before it lets go, instead of starting a Node each.
  it('waits natively for a start another call has under way, and attaches without Node of its own', async () => {
    expect((await t.wsl(['--terminate', 'Ubuntu'])).exitCode).toBe(0);
    const registry = JSON.parse(readFileSync(join(t.root, 'registry.json'), 'utf8')) as { distros: Array<{ id: string; name: string }> };
    const lock = join(t.root, 'locks', `${registry.distros.find((d) => d.name === 'Ubuntu')!.id}.lock.lock`);
    const booting = t.wsl(['-d', 'Ubuntu', '--exec', 'true']);
    try {
      expect(await until(async () => existsSync(lock), 10_000, 2)).toBe(true);
      // No node on PATH: only the native entry can carry this call.
      const waiting = await t.wsl(['-d', 'Ubuntu', '--exec', 'echo', 'attached'], { env: { PATH: '/nonexistent' } });
      expect(waiting).toMatchObject({ exitCode: 0, stdout: 'attached' });
    } finally {
      // A start still under way when the world shuts down could outlive its cleanup.
      expect((await booting).exitCode).toBe(0);
    }
  });

  it('answers -l -v without Node, exactly as Node does, and leaves it to Node once the registry changed', async () => {
    const listed = (env: Record<string, string>) => t.wsl(['-l', '-v'], { env });
    // No node on PATH: only the native entry can answer.
    const withoutNode = { PATH: '/nonexistent' };
    const byNode = async () => (await listed({ BERTH_WSL_FAST_EXEC: '0' })).stdout;
    await t.wsl(['-d', 'Ubuntu', '--exec', 'true']);
    const running = await byNode();
    expect(running).toMatch(/^\* Ubuntu\s+Running\s+2$/m);
    expect(await listed(withoutNode)).toMatchObject({ exitCode: 0, stdout: running });
    // The manager's other list (the states, language-independent on Windows).
    const runningNames = (env: Record<string, string>) => t.wsl(['--list', '--running', '--quiet'], { env });
    expect((await runningNames({ BERTH_WSL_FAST_EXEC: '0' })).stdout).toBe('Ubuntu');
    expect(await runningNames(withoutNode)).toMatchObject({ exitCode: 0, stdout: 'Ubuntu' });
    expect((await t.wsl(['--terminate', 'Ubuntu'])).exitCode).toBe(0);
    const stopped = await byNode();
    expect(stopped).toMatch(/^\* Ubuntu\s+Stopped\s+2$/m);
    expect(await listed(withoutNode)).toMatchObject({ exitCode: 0, stdout: stopped });
    expect(await runningNames({ BERTH_WSL_FAST_EXEC: '0' })).toMatchObject({ exitCode: 0, stdout: '' });
    expect(await runningNames(withoutNode)).toMatchObject({ exitCode: 0, stdout: '' });

    // A registry.json the record was not made from (another program's write): Node's to answer.
    const registry = join(t.root, 'registry.json');
    writeFileSync(registry, readFileSync(registry));
    const stale = await listed(withoutNode);
    expect(stale.exitCode).not.toBe(0);
    expect(stale.stderr).toContain('cannot run node');
    expect(await listed({})).toMatchObject({ exitCode: 0, stdout: stopped }); // Node answers, and writes the record anew
    expect(await listed(withoutNode)).toMatchObject({ exitCode: 0, stdout: stopped });
    await t.wsl(['-d', 'Ubuntu', '--exec', 'true']); // running again, as the cases after expect
  });

  it('drives the host through the same driver the manager uses (CommandWslHost)', async () => {
    const host = t.host();
    const listed = await host.list();
    expect(listed).toEqual([{ name: 'Ubuntu', version: 2, isDefault: true, state: 'Running' }]);
    const r = await host.run('Ubuntu', ['sh', '-c', 'echo $GREETING; cat'], { env: { GREETING: 'hi' }, input: 'piped', user: 'me' });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hi\npiped' });
    const e = await host.terminate('Nope').catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'not-found' });
  });
});

describe.runIf(run)('Linux WSL host: the shared VM', () => {
  let t: TestWslRoot;
  let drive: string;

  beforeAll(async () => {
    drive = '';
    t = new TestWslRoot();
    drive = join(t.root, 'drives/c');
    t.env.BERTH_WSL_DRIVES = `c=${drive}`;
    mkdirSync(join(drive, 'Users/me'), { recursive: true });
    writeFileSync(join(drive, 'Users/me/notes.txt'), 'from windows\n');
    const a = await makeRootfsTarball(t.root, 'a');
    const rootSlash = await makeRootfsTarball(t.root, 'rootslash', {
      wslConf: '[automount]\nroot = /\n[boot]\ncommand = echo booted > /run/boot-marker\n[user]\ndefault = me\n',
    });
    for (const [name, file] of [
      ['A', a],
      ['B', a],
      ['Slash', rootSlash],
    ] as const) {
      expect((await t.wsl(['--import', name, join(t.root, 'distros', name), file])).exitCode).toBe(0);
    }
  });
  afterAll(async () => t?.cleanup());

  it('shares one network namespace between distros, separate from the host', async () => {
    await t.wsl(['-d', 'A', '--exec', 'sh', '-c', 'mkdir -p /www && echo served-by-A > /www/index.html && httpd -p 127.0.0.1:18080 -h /www']);
    const fromB = await t.wsl(['-d', 'B', '--exec', 'wget', '-qO-', 'http://127.0.0.1:18080/']);
    expect(fromB.stdout.trim()).toBe('served-by-A');
    const fromHost = await execa('wget', ['-qO-', '-T', '2', 'http://127.0.0.1:18080/'], { reject: false }).catch(() => ({ exitCode: 1 }));
    const hostBusybox = await execa('busybox', ['wget', '-qO-', '-T', '2', 'http://127.0.0.1:18080/'], { reject: false });
    expect(hostBusybox.exitCode).not.toBe(0);
    expect(fromHost.exitCode).not.toBe(0);
  });

  it('propagates a mount made into /mnt/wsl from one distro to the others and to the host', async () => {
    await t.wsl(['-d', 'A', '--exec', 'sh', '-c', 'mkdir -p /srv/data /mnt/wsl/x && echo cross > /srv/data/f && mount --bind /srv/data /mnt/wsl/x']);
    expect((await t.wsl(['-d', 'B', '--exec', 'cat', '/mnt/wsl/x/f'])).stdout).toBe('cross');
    expect((await t.wsl(['-d', 'Slash', '--exec', 'cat', '/wsl/x/f'])).stdout).toBe('cross');
    expect(readFileSync(join(t.root, 'run/wsl/x/f'), 'utf8')).toBe('cross\n');
  });

  it('keeps /mnt/wsl mounts after the distro that made them terminates, as WSL does', async () => {
    expect((await t.wsl(['--terminate', 'A'])).exitCode).toBe(0);
    expect((await t.wsl(['-l', '--running', '-q'])).stdout).not.toMatch(/^A$/m);
    expect((await t.wsl(['-d', 'B', '--exec', 'cat', '/mnt/wsl/x/f'])).stdout).toBe('cross');
    // Starting a new distro must not unmount what the others see.
    expect((await t.wsl(['-d', 'A', '--exec', 'cat', '/mnt/wsl/x/f'])).stdout).toBe('cross');
    expect((await t.wsl(['-d', 'B', '--exec', 'cat', '/mnt/wsl/x/f'])).stdout).toBe('cross');
  });

  it('mounts the Windows drives at <automount root>/<letter>, honouring wsl.conf', async () => {
    expect((await t.wsl(['-d', 'A', '--exec', 'cat', '/mnt/c/Users/me/notes.txt'])).stdout).toBe('from windows');
    expect((await t.wsl(['-d', 'Slash', '--exec', 'cat', '/c/Users/me/notes.txt'])).stdout).toBe('from windows');
    expect((await t.wsl(['-d', 'Slash', '--exec', 'ls', '/mnt'])).stdout).toBe('');
    await t.wsl(['-d', 'A', '--exec', 'sh', '-c', 'echo from linux > /mnt/c/Users/me/back.txt']);
    expect(readFileSync(join(drive, 'Users/me/back.txt'), 'utf8')).toBe('from linux\n');
  });

  it('runs the [boot] command once and uses the [user] default', async () => {
    expect((await t.wsl(['-d', 'Slash', '--exec', 'cat', '/run/boot-marker'])).stdout).toBe('booted');
    expect((await t.wsl(['-d', 'Slash', '--exec', 'id', '-un'])).stdout).toBe('me');
  });

  it('starts one init for racing first calls, and runs parallel calls', async () => {
    await t.wsl(['--terminate', 'B']);
    const results = await Promise.all(Array.from({ length: 8 }, () => t.wsl(['-d', 'B', '--exec', 'sh', '-c', 'cat /proc/1/stat | cut -d" " -f22'])));
    for (const r of results) expect(r.exitCode).toBe(0);
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
    const holders = (await processesUnder(t.root)).filter((l) => l.includes('pid1') && l.includes(' --idle'));
    expect(holders.filter((l) => results.length && l.includes(readInitRoot(t.root, 'B')))).toHaveLength(1);
  });

  it('runs a command that arrives while the distro terminates in a fresh start, not in the init on its way out', async () => {
    const startTimeOfInit = async () => (await t.wsl(['-d', 'B', '--exec', 'sh', '-c', 'cut -d" " -f22 /proc/1/stat'])).stdout;
    const before = await startTimeOfInit();
    const init = JSON.parse(readFileSync(join(readInitRoot(t.root, 'B'), 'init.json'), 'utf8')) as { pid: number };
    // A stopped init takes its SIGTERM only when continued: the terminate waits it out (10 s, then SIGKILL).
    process.kill(init.pid, 'SIGSTOP');
    try {
      const terminating = t.wsl(['--terminate', 'B']);
      expect(await until(async () => !existsSync(join(readInitRoot(t.root, 'B'), 'init.json')), 5000, 20)).toBe(true);
      const during = await t.wsl(['-d', 'B', '--exec', 'sh', '-c', 'cut -d" " -f22 /proc/1/stat']);
      expect((await terminating).exitCode).toBe(0);
      expect(during.exitCode, during.stderr).toBe(0);
      expect(during.stdout).not.toBe(before);
      expect(during.stdout).toBe(await startTimeOfInit());
    } finally {
      try {
        process.kill(init.pid, 'SIGCONT');
      } catch {
        // ended by the terminate, as it should be
      }
    }
  }, 30_000);

  it('terminate ends every process and mount of the distro; shutdown also the shared area', async () => {
    await t.wsl(['-d', 'B', '--exec', 'sh', '-c', 'sleep 1000 >/dev/null 2>&1 & sleep 1000 >/dev/null 2>&1 & true']);
    const bRoot = readInitRoot(t.root, 'B');
    expect(await processesUnder(bRoot)).not.toHaveLength(0);
    const sleepers = worldProcesses(t.root, (c) => c === 'sleep 1000');
    expect(sleepers).toHaveLength(2);
    await t.wsl(['--terminate', 'B']);
    expect(await processesUnder(bRoot)).toEqual([]);
    expect(sleepers.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
    expect((await t.wsl(['--shutdown'])).exitCode).toBe(0);
    expect(t.mountsUnderRoot()).toEqual([]);
    expect(await processesUnder(t.root)).toEqual([]);
    expect((await t.wsl(['-l', '--running'])).stdout).toContain('There are no running distributions.');
    // The next call brings the VM back, without the old /mnt/wsl mounts.
    expect((await t.wsl(['-d', 'B', '--exec', 'ls', '/mnt/wsl'])).stdout).toBe('');
  });
});

/** The run dir of a distro's init, to find its processes by command line. */
function readInitRoot(root: string, name: string): string {
  const reg = JSON.parse(readFileSync(join(root, 'registry.json'), 'utf8')) as { distros: Array<{ id: string; name: string }> };
  const id = reg.distros.find((d) => d.name === name)!.id;
  return join(root, 'run/distros', id);
}

describe.runIf(run)('Linux WSL host: idle termination', () => {
  let t: TestWslRoot;
  beforeAll(async () => {
    t = new TestWslRoot({ BERTH_WSL_IDLE_TIMEOUT: '2' });
    const file = await makeRootfsTarball(t.root, 'idle');
    await t.wsl(['--import', 'Idle', join(t.root, 'distros/Idle'), file]);
  });
  afterAll(async () => t?.cleanup());

  it('keeps a distro up while a process is attached and ends it once idle', async () => {
    // A background process does not count as attached: only the wsl session does.
    const attached = await t.wsl(['-d', 'Idle', '--exec', 'sh', '-c', 'sleep 600 >/dev/null 2>&1 & sleep 4; echo still-here']);
    expect(attached.stdout).toBe('still-here');
    const sleeper = worldProcesses(t.root, (c) => c === 'sleep 600');
    expect(sleeper).toHaveLength(1);
    // It ends by itself once idle (60 s is a hang guard, not a figure; bench/ has the timings).
    const ended = await until(async () => !(await t.wsl(['-l', '--running', '-q'])).stdout.includes('Idle'), 60_000);
    expect(ended).toBe(true);
    expect(sleeper.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
  });
});

describe.runIf(run)('Linux WSL host: started from a mount namespace of its own', () => {
  let t: TestWslRoot;
  let mounts: PrivateMounts | undefined;
  beforeAll(async () => {
    t = new TestWslRoot();
    const file = await makeRootfsTarball(t.root, 'nested');
    expect((await t.wsl(['--import', 'Nested', join(t.root, 'distros/Nested'), file])).exitCode).toBe(0);
  });
  afterAll(async () => {
    await mounts?.close();
    await t?.cleanup();
  });

  // Linux 6.18 numbers namespaces from per-CPU batches and refuses the VM's nsfs bind when the
  // new namespace's number is below the caller's: with the caller's namespace made on one CPU
  // and the VM's on another, one of the two orders hit it (what failed CI in the networking
  // suite, whose world runs in private mounts).
  it("starts the VM whichever CPUs made the caller's namespace and the VM's", async () => {
    const cpus = (await onlineCpus()).slice(0, 2);
    const pairs =
      cpus.length < 2
        ? [[cpus[0]!, cpus[0]!]]
        : [
            [cpus[0]!, cpus[1]!],
            [cpus[1]!, cpus[0]!],
          ];
    for (const [holderCpu, callerCpu] of pairs) {
      mounts = await PrivateMounts.create({}, holderCpu);
      t.prefix = [...mounts.prefix, 'taskset', '--cpu-list', String(callerCpu)];
      const r = await t.wsl(['-d', 'Nested', '--exec', 'hostname']);
      expect(r.exitCode, `namespace made on CPU ${holderCpu}, berth-wsl on CPU ${callerCpu}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe('Nested');
      expect((await t.wsl(['--shutdown'])).exitCode).toBe(0);
      expect(await mounts.mountsUnder(t.root)).toEqual([]);
      await mounts.close();
      mounts = undefined;
      t.prefix = [];
    }
  });
});

describe.runIf(run)("Linux WSL host: what it prints is wsl.exe's, in en-US (Microsoft's strings)", () => {
  let t: TestWslRoot;
  const en = wslStrings.strings['en-US']!;
  const code = (message: string, c: string) => `${fill(en.MessageErrorCode!, message, c)}\n`;
  /** Its stdout as text, "\r\n" read as "\n", the final newline kept. */
  const say = async (args: string[]) => {
    const r = await execa(BERTH_WSL, args, { reject: false, stripFinalNewline: false, env: t.env });
    return { out: r.stdout.replace(/\r\n/g, '\n'), exitCode: r.exitCode };
  };
  beforeAll(() => {
    t = new TestWslRoot();
  });
  afterAll(async () => t?.cleanup());

  it('with no distro: -l -v and -l say so without an error code, -q and --running -q say nothing', async () => {
    expect(await say(['-l', '-v'])).toEqual({ out: `${en.MessageNoDefaultDistro}\n`, exitCode: 255 });
    expect(await say(['-l'])).toEqual({ out: `${en.MessageNoDefaultDistro}\n`, exitCode: 255 });
    expect(await say(['-l', '-q'])).toEqual({ out: '', exitCode: 0 });
    expect(await say(['-l', '--running', '-q'])).toEqual({ out: '', exitCode: 0 });
    expect(await say(['-l', '--running'])).toEqual({ out: `${en.MessageNoRunningDistro}\n`, exitCode: 255 });
    expect(await say(['--terminate', 'Ghost'])).toEqual({ out: code(en.MessageDistroNotFound!, 'Wsl/Service/WSL_E_DISTRO_NOT_FOUND'), exitCode: 255 });
  });

  it('imports, lists, refuses a taken name and unregisters in its words', async () => {
    const file = await makeRootfsTarball(t.root, 'words');
    const imported = await say(['--import', 'Words', join(t.root, 'distros/Words'), file]);
    expect(imported.out.split('\n')[0]).toBe(en.MessageImportProgress);
    expect(imported.exitCode).toBe(0);
    expect((await say(['-l', '-v'])).out).toBe(listVerboseTable([{ name: 'Words', state: 'Stopped', version: 2, isDefault: true }]));
    expect((await say(['-l'])).out).toBe(`${en.MessageRegisteredDistrosHeader}\n${fill(en.MessagePrintDistroDefault!, 'Words')}\n`);
    // wsl.exe shows its progress line before the service refuses the name (WslClient.cpp).
    const taken = await say(['--import', 'Words', join(t.root, 'distros/Words2'), file]);
    expect(taken).toEqual({ out: `${en.MessageImportProgress}\n${code(en.MessageDistroNameAlreadyExists!, 'Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS')}`, exitCode: 255 });
    const unregistered = await say(['--unregister', 'Words']);
    expect(unregistered.out.split('\n')[0]).toBe(en.MessageStatusUnregistering);
  });

  it("writes each distro's /etc/hosts as WSL's init does (localhost resolves), unless wsl.conf says generateHosts = false", async () => {
    expect((await t.wsl(['--import', 'Hosts', join(t.root, 'distros/Hosts'), await makeRootfsTarball(t.root, 'hosts')])).exitCode).toBe(0);
    const written = await t.wsl(['-d', 'Hosts', '--exec', 'cat', '/etc/hosts']);
    expect(`${written.stdout}\n`).toBe(generatedHosts('Hosts', readFileSync('/etc/hosts', 'utf8')));
    expect((await t.wsl(['-d', 'Hosts', '--exec', 'cat', '/etc/hostname'])).stdout).toBe('Hosts');
    const byName = await t.wsl(['-d', 'Hosts', '--exec', 'sh', '-c', 'mkdir -p /tmp/www && echo up > /tmp/www/index.html && httpd -p 127.0.0.1:8099 -h /tmp/www && wget -qO- http://localhost:8099/']);
    expect(byName.stdout, byName.stderr).toBe('up');
    await t.wsl(['-d', 'Hosts', '--exec', 'sh', '-c', 'printf "[network]\\ngenerateHosts = false\\n" > /etc/wsl.conf && printf "192.0.2.7 mine\\n" > /etc/hosts']);
    expect((await t.wsl(['--terminate', 'Hosts'])).exitCode).toBe(0);
    expect((await t.wsl(['-d', 'Hosts', '--exec', 'cat', '/etc/hosts'])).stdout).toBe('192.0.2.7 mine');
  });

  it("never follows a link in a distro's /etc out to the host's files: the link is replaced, its target untouched", async () => {
    const canary = join(t.root, 'canary');
    writeFileSync(canary, 'the host file\n');
    const tree = makeRootfsDir(join(t.root, 'linked-tree'));
    for (const f of ['hosts', 'hostname', 'resolv.conf']) symlinkSync(canary, join(tree, 'etc', f));
    const tarball = join(t.root, 'linked.tar.gz');
    await tar.create({ gzip: true, file: tarball, cwd: tree }, ['.']);
    expect((await t.wsl(['--import', 'Linked', join(t.root, 'distros/Linked'), tarball])).exitCode).toBe(0);
    expect((await t.wsl(['-d', 'Linked', '--exec', 'sh', '-c', '[ ! -L /etc/hostname ] && cat /etc/hostname'])).stdout).toBe('Linked');
    expect(readFileSync(canary, 'utf8')).toBe('the host file\n');
  });
});

describe.runIf(run)('Linux WSL host: ext4 images, bad input, unregister', () => {
  let t: TestWslRoot;
  beforeAll(() => {
    t = new TestWslRoot();
  });
  afterAll(async () => t?.cleanup());

  it('imports an ext4 image with --vhd, loop-mounts it, and frees the loop device on terminate', async () => {
    const image = makeRootfsImage(t.root, 'disk', { files: { 'etc/disk-marker': 'on ext4\n' } });
    expect((await t.wsl(['--import', 'Disk', join(t.root, 'distros/Disk'), image, '--vhd'])).exitCode).toBe(0);
    const installed = join(t.root, 'distros/Disk/ext4.vhdx');
    expect(existsSync(installed)).toBe(true);
    expect((await t.wsl(['-d', 'Disk', '--exec', 'cat', '/etc/disk-marker'])).stdout).toBe('on ext4');
    expect((await t.wsl(['-d', 'Disk', '--exec', 'sh', '-c', "grep ' / ' /proc/mounts"])).stdout).toMatch(/^\/dev\/loop\d+ \/ ext4/);
    expect((await execa('losetup', ['-j', installed])).stdout).not.toBe('');
    await t.wsl(['--terminate', 'Disk']);
    expect((await execa('losetup', ['-j', installed])).stdout).toBe('');
    expect((await t.wsl(['--unregister', 'Disk'])).exitCode).toBe(0);
    expect(existsSync(installed)).toBe(false);
  });

  it('registers an image in place; a restart while a mount of its disk lives on re-uses the one loop device; --manage resizes and sparsifies it', async () => {
    const image = makeRootfsImage(t.root, 'inplace', { files: { 'etc/disk-marker': 'in place\n' } });
    expect((await t.wsl(['--import-in-place', 'InPlace', image])).exitCode).toBe(0);
    expect((await t.wsl(['-d', 'InPlace', '--exec', 'cat', '/etc/disk-marker'])).stdout).toBe('in place');
    // A mount of the disk outliving the distro (as berth-data's store lives on in /mnt/wsl).
    const kept = await t.wsl(['-d', 'InPlace', '-u', 'root', '--exec', 'sh', '-c', 'mkdir -p /mnt/wsl/inplace-keep && mount --bind / /mnt/wsl/inplace-keep']);
    expect(kept.exitCode, kept.stderr).toBe(0);
    await t.wsl(['--terminate', 'InPlace']);
    expect((await t.wsl(['-d', 'InPlace', '-u', 'root', '--exec', 'sh', '-c', 'echo second > /second-start'])).exitCode).toBe(0);
    expect((await execa('losetup', ['-j', image])).stdout.trim().split('\n')).toHaveLength(1);
    // One file system: what the restarted distro wrote is there through the older mount.
    expect(readFileSync(join(t.root, 'run/wsl/inplace-keep/second-start'), 'utf8')).toBe('second\n');
    const shrinkRunning = await t.wsl(['--manage', 'InPlace', '--resize', '32MB']);
    expect(shrinkRunning.exitCode).toBe(255);
    // wsl.exe's words for it (MessageVhdInUse, WSL_E_DISTRO_NOT_STOPPED).
    expect(shrinkRunning.stdout.replace(/\r\n/g, '\n')).toBe(`${fill(wslStrings.strings['en-US']!.MessageErrorCode!, wslStrings.strings['en-US']!.MessageVhdInUse!, 'Wsl/Service/WSL_E_DISTRO_NOT_STOPPED')}`);
    await t.wsl(['-d', 'InPlace', '-u', 'root', '--exec', 'umount', '/mnt/wsl/inplace-keep']);
    await t.wsl(['--terminate', 'InPlace']);
    expect((await execa('losetup', ['-j', image])).stdout).toBe('');
    expect((await execa('e2fsck', ['-f', '-n', image], { reject: false })).exitCode).toBe(0);

    expect((await t.wsl(['--manage', 'InPlace', '--resize', '128MB'])).exitCode).toBe(0);
    expect(statSync(image).size).toBe(128 * 2 ** 20);
    const df = (await t.wsl(['-d', 'InPlace', '--exec', 'df', '-k', '/'])).stdout.split('\n')[1]!.trim().split(/\s+/);
    expect(Number(df[1])).toBeGreaterThan(100 * 1024);
    await t.wsl(['--terminate', 'InPlace']);
    const tooSmall = await t.wsl(['--manage', 'InPlace', '--resize', '1MB']);
    expect(tooSmall.exitCode).toBe(255);
    expect(tooSmall.stdout).toMatch(/The disk could not be resized: /);
    expect(statSync(image).size).toBe(128 * 2 ** 20); // nothing changed
    expect((await t.wsl(['--manage', 'InPlace', '--resize', '96MB'])).exitCode).toBe(0);
    expect(statSync(image).size).toBe(96 * 2 ** 20);
    expect((await t.wsl(['--manage', 'InPlace', '--set-sparse', 'true'])).exitCode).toBe(0);
    expect((await t.wsl(['-d', 'InPlace', '--exec', 'cat', '/second-start'])).stdout).toBe('second');
    await t.wsl(['--terminate', 'InPlace']);
    expect((await execa('e2fsck', ['-f', '-n', image], { reject: false })).exitCode).toBe(0);
    expect((await t.wsl(['--unregister', 'InPlace'])).exitCode).toBe(0);
    expect(existsSync(image)).toBe(false);
  }, 120_000);

  it("refuses a corrupt tarball with wsl.exe's error and leaves nothing behind", async () => {
    const bad = join(t.root, 'corrupt.tar.gz');
    writeFileSync(bad, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(4096, 7)]));
    const dir = join(t.root, 'distros/Corrupt');
    const r = await t.wsl(['--import', 'Corrupt', dir, bad]);
    expect(r.exitCode).toBe(255);
    expect(r.stdout).toMatch(/not a valid distribution: .*gzip/);
    expect(r.stdout).toContain('Error code: Wsl/Service/RegisterDistro/WSL_E_IMPORT_FAILED');
    expect(existsSync(dir)).toBe(false);
    expect((await t.wsl(['-l', '-q'])).stdout).not.toContain('Corrupt');
  });

  it('answers missing files, existing names, unknown distros and relative paths as wsl.exe does (a relative install location taken from the current directory)', async () => {
    const file = await makeRootfsTarball(t.root, 'ok');
    const missing = await t.wsl(['--import', 'X', join(t.root, 'distros/X'), join(t.root, 'nope.tar')]);
    expect(missing.stdout).toContain('The system cannot find the file specified.');
    expect(missing.exitCode).toBe(255);
    expect((await t.wsl(['--import', 'Ok', join(t.root, 'distros/Ok'), file])).exitCode).toBe(0);
    const again = await t.wsl(['--import', 'OK', join(t.root, 'distros/Ok2'), file]);
    expect(again.stdout).toContain('A distribution with the supplied name already exists.');
    expect(existsSync(join(t.root, 'distros/Ok2'))).toBe(false);
    const unknown = await t.wsl(['-d', 'Ghost', '--exec', 'true']);
    expect(unknown.stdout).toMatch(/There is no distribution with the supplied name\.\r?\nError code: Wsl\/Service\/WSL_E_DISTRO_NOT_FOUND/);
    expect(unknown.exitCode).toBe(255);
    // A relative install location is the caller's directory's, as wsl.exe's AbsolutePath makes it.
    const relative = await t.wsl(['--import', 'Rel', 'relative/dir', file], { cwd: t.root });
    expect(relative.exitCode, relative.stdout).toBe(0);
    expect(existsSync(join(t.root, 'relative/dir/rootfs/etc/passwd'))).toBe(true);
    expect((await t.wsl(['--unregister', 'Rel'])).exitCode).toBe(0);
    const bogus = await t.wsl(['--frobnicate']);
    expect(bogus.stdout).toContain('Invalid command line argument: --frobnicate');
  });

  it('imports from standard input and unregisters, deleting the files', async () => {
    const file = await makeRootfsTarball(t.root, 'stdin');
    const dir = join(t.root, 'distros/FromStdin');
    expect((await t.wsl(['--import', 'FromStdin', dir, '-'], { inputFile: file })).exitCode).toBe(0);
    expect((await t.wsl(['-d', 'FromStdin', '--exec', 'echo', 'ok'])).stdout).toBe('ok');
    expect((await t.wsl(['--unregister', 'FromStdin'])).exitCode).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect((await t.wsl(['-d', 'FromStdin', '--exec', 'true'])).exitCode).toBe(255);
  });

  it('marks a WSL 1 distro as version 1, outside the shared VM network and /mnt/wsl', async () => {
    const file = await makeRootfsTarball(t.root, 'v1');
    expect((await t.wsl(['--import', 'Old', join(t.root, 'distros/Old'), file, '--version', '1'])).exitCode).toBe(0);
    expect((await t.wsl(['-l', '-v'])).stdout).toMatch(/Old\s+\S+\s+1/);
    expect((await t.host().list()).find((d) => d.name === 'Old')?.version).toBe(1);
    expect((await t.wsl(['-d', 'Old', '--exec', 'ls', '/mnt'])).stdout).not.toContain('wsl');
  });
});

describe.runIf(run)('Linux WSL host: connect to sockets under /mnt/wsl', () => {
  let t: TestWslRoot;
  let server: Server;
  beforeAll(async () => {
    t = new TestWslRoot();
    const file = await makeRootfsTarball(t.root, 'sock');
    await t.wsl(['--import', 'Sock', join(t.root, 'distros/Sock'), file]);
    await t.wsl(['-d', 'Sock', '--exec', 'mkdir', '-p', '/mnt/wsl/svc']);
    // A service that answers once the client half-closes: it proves both directions and EOF.
    server = createServer((c) => {
      const chunks: Buffer[] = [];
      c.on('data', (d: Buffer) => chunks.push(d));
      c.on('end', () => c.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    await new Promise<void>((r) => server.listen(join(t.root, 'run/wsl/svc/echo.sock'), r));
  });
  afterAll(async () => {
    server?.close();
    await t?.cleanup();
  });

  for (const transport of ['direct', 'relay'] as const) {
    it(`reaches a socket ${transport === 'direct' ? 'directly through the shared area' : "through a relay --exec'd in the distro"}`, async () => {
      const host = transport === 'direct' ? t.host({ sharedAreaPath: join(t.root, 'run/wsl') }) : t.host({ relayCommand: ['/init', 'relay'] });
      const stream = await host.connect('Sock', '/mnt/wsl/svc/echo.sock');
      const payload = Buffer.alloc(3 * 1024 * 1024, 1);
      const reply = new Promise<string>((resolve, reject) => {
        const parts: Buffer[] = [];
        stream.on('data', (d: Buffer) => parts.push(d));
        stream.on('end', () => resolve(Buffer.concat(parts).toString()));
        stream.on('error', reject);
      });
      stream.end(payload);
      expect(await reply).toBe(`got ${payload.length} bytes`);
    });
  }

  it('fails clearly when nothing listens', async () => {
    const direct = t.host({ sharedAreaPath: join(t.root, 'run/wsl') });
    await expect(direct.connect('Sock', '/mnt/wsl/svc/none.sock')).rejects.toThrow(/Cannot connect to \/mnt\/wsl\/svc\/none.sock/);
  });
});
