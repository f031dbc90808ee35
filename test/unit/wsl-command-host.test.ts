import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandWslHost, withWslenv } from '../../wsl-host/command-host.js';
import { WslError } from '../../wsl-host/errors.js';
import * as out from '../fixtures/wsl-outputs.js';
import { fill, wslStrings } from '../helpers/wsl-strings.js';
import { recordedWsl } from '../helpers/recorded-wsl.js';

const en = wslStrings.strings['en-US']!;

// A recorded wsl.exe: answers each command line with a canned output file and exit code,
// in UTF-16LE as older builds do (the driver asks for WSL_UTF8=1 and must cope when ignored).
const dir = mkdtempSync(join(tmpdir(), 'berth-fake-wsl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** In UTF-16LE with "\r\r\n", as older builds write. */
const fakeWsl = (answers: Record<string, { text: string; code: number }>) => recordedWsl(dir, answers, 'utf16-crcrlf');

describe('the wsl.exe driver against recorded outputs', () => {
  it('lists distros with running-ness from --running, not the STATE column', async () => {
    const wsl = fakeWsl({
      '--list --verbose': { text: out.listVerboseGerman, code: 0 },
      '--list --running --quiet': { text: 'berth\n', code: 0 },
    });
    expect(await new CommandWslHost({ command: wsl }).list()).toEqual([
      { name: 'Ubuntu-22.04', version: 2, isDefault: true, state: 'Stopped' },
      { name: 'berth', version: 2, isDefault: false, state: 'Running' },
    ]);
  });

  it('reads "no installed distributions" (exit -1) as an empty list', async () => {
    const wsl = fakeWsl({
      '--list --verbose': { text: out.noDistributions, code: 255 },
      '--list --running --quiet': { text: out.noDistributions, code: 255 },
    });
    expect(await new CommandWslHost({ command: wsl }).list()).toEqual([]);
  });

  it('turns error text on stdout with exit -1 into a typed error', async () => {
    const wsl = fakeWsl({ '--terminate nope': { text: out.notFound, code: 255 } });
    const error = await new CommandWslHost({ command: wsl }).terminate('nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WslError);
    expect((error as WslError).kind).toBe('not-found');
  });

  it('drives the disk verbs as wsl.exe spells them: --import-in-place, --manage --resize (MB), --manage --set-sparse', async () => {
    const ok = { text: 'The operation completed successfully.\n', code: 0 };
    const wsl = fakeWsl({
      '--import-in-place berth-data D:\\Berth\\ext4.vhdx': ok,
      '--manage berth-data --resize 65536MB': ok,
      '--manage berth-data --set-sparse true': ok,
      '--manage berth-data --resize 1024MB': { text: `${fill(en.MessageErrorCode!, en.MessageVhdInUse!, 'Wsl/Service/WSL_E_DISTRO_NOT_STOPPED')}\n`, code: 255 },
    });
    const host = new CommandWslHost({ command: wsl });
    await host.importInPlace('berth-data', 'D:\\Berth\\ext4.vhdx');
    await host.resizeDisk('berth-data', 64 * 2 ** 30);
    await host.setSparse('berth-data', true);
    const refused = await host.resizeDisk('berth-data', 2 ** 30).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WslError);
    expect((refused as WslError).code).toBe('Wsl/Service/WSL_E_DISTRO_NOT_STOPPED');
    await expect(host.resizeDisk('berth-data', 1000)).rejects.toThrow(/whole number of MiB/);
  });

  it('reports wsl itself missing as wsl-missing', async () => {
    const error = await new CommandWslHost({ command: join(dir, 'no-such-wsl.exe') }).list().catch((e: unknown) => e);
    expect((error as WslError).kind).toBe('wsl-missing');
  });

  it('tells a command that exits 255 apart from wsl failing', async () => {
    const wsl = fakeWsl({ '-d Ubuntu --exec false': { text: '', code: 255 } });
    const result = await new CommandWslHost({ command: wsl }).run('Ubuntu', ['false']);
    expect(result.exitCode).toBe(255);
  });

  it('passes environment through WSLENV, as wsl.exe needs', () => {
    const env = withWslenv({ FOO: '1', BAR: 'x' });
    expect(env.FOO).toBe('1');
    expect(env.WSLENV?.split(':')).toEqual(expect.arrayContaining(['FOO', 'BAR']));
    expect(withWslenv(undefined)).toEqual({});
  });
});

describe('an attached command whose wsl process dies', () => {
  it('reports the exit even when something it started still holds the output open', async () => {
    // A wsl that starts a long-lived child sharing its stdout, then dies (as a killed wsl.exe
    // whose Linux command lives on).
    const script = join(dir, 'wsl-dies');
    const finished = join(dir, 'child-finished');
    const childPid = join(dir, 'child-pid');
    writeFileSync(script, `#!/bin/sh\n(sleep 30; touch '${finished}') &\necho $! > '${childPid}'\nexit 7\n`);
    chmodSync(script, 0o755);
    const result = await new CommandWslHost({ command: script }).exec('any', ['true']).done;
    expect(result.exitCode).toBe(7);
    expect(existsSync(finished)).toBe(false); // known while the child still runs, not when it lets go
    const pid = readFileSync(childPid, 'utf8').trim();
    spawnSync('pkill', ['-KILL', '-P', pid]); // its sleep
    process.kill(Number(pid), 'SIGKILL');
  });
});

// What the manager hands a command in a distro: input to read, its output to collect or to
// send into a stream of the caller's, and a way to give up on it.
describe("a command's input, output and cancellation through the driver", () => {
  /** A wsl that drops the `-d NAME [-u USER] --exec` prefix and runs the rest. */
  function passThroughWsl(): string {
    const script = join(dir, 'wsl-runs-it');
    writeFileSync(script, '#!/bin/sh\nwhile [ "$1" != "--exec" ]; do shift; done\nshift\nexec "$@"\n');
    chmodSync(script, 0o755);
    return script;
  }

  it('feeds input, collects the output, sends it into a stream of the caller', async () => {
    const host = new CommandWslHost({ command: passThroughWsl() });
    expect(await host.run('any', ['sh', '-c', 'tr a-z A-Z; echo oops >&2; exit 3'], { input: 'hello\n' })).toEqual({ exitCode: 3, signal: undefined, stdout: 'HELLO\n', stderr: 'oops\n' });
    const chunks: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (chunks.push(chunk.toString()), done()) });
    const r = await host.exec('any', ['echo', 'into the sink'], { stdout: sink }).done;
    expect(r.exitCode).toBe(0);
    expect(chunks.join('')).toBe('into the sink\n');
    expect(sink.writableEnded).toBe(false); // the caller's stream stays the caller's
  });

  it('kills the command when its signal aborts, and says it was signalled', async () => {
    const host = new CommandWslHost({ command: passThroughWsl() });
    const cancel = new AbortController();
    const running = host.run('any', ['sleep', '30'], { signal: cancel.signal });
    setTimeout(() => cancel.abort(), 50);
    expect(await running).toMatchObject({ exitCode: 128, signal: 'SIGTERM' });
  });
});
