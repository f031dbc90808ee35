import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, main } from '../../installer/cli.js';
import type { CliContext } from '../../installer/commands/context.js';
import { HomeLayout } from '../../installer/home.js';
import { FakeWsl } from '../helpers/fake-wsl.js';
import { withLock } from '../../common/lock.js';

let dir: string;
let out: string[];
let err: string;
let ctx: CliContext;
let wsl: FakeWsl;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  out = [];
  err = '';
  wsl = new FakeWsl();
  wsl.distros = [{ name: 'Legacy', state: 'Stopped', version: 1, isDefault: false }];
  ctx = { home: new HomeLayout(dir), wsl: async () => wsl, say: (l) => out.push(l), warn: (t) => (err += t), confirm: async () => false };
  process.exitCode = undefined;
});
afterEach(() => {
  process.exitCode = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('the berth CLI, with its context handed in', () => {
  it('status with nothing running: the contract JSON, exit 3', async () => {
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ integratedDistros: ['Ubuntu'] }));
    expect(await main(['status', '--json'], ctx)).toBe(EXIT.notRunning);
    expect(JSON.parse(out[0]!)).toEqual({ state: 'stopped', endpoint: `unix://${join(dir, 'run/docker.sock')}`, services: [], integrations: [{ distro: 'Ubuntu', state: 'stopped' }] });
  });

  it('refuses what the user must change (exit 4), and names an invalid settings key (exit 1)', async () => {
    expect(await main(['integrate', 'berth'], ctx)).toBe(EXIT.refused);
    expect(err).toBe("berth: berth is one of Berth's own distros, not a place to integrate with\n");
    err = '';
    expect(await main(['integrate', 'Legacy'], ctx)).toBe(EXIT.refused);
    expect(err).toMatch(/Legacy is a WSL 1 distro; integration needs WSL 2 \(wsl --set-version Legacy 2\)/);
    err = '';
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ logLevel: 'loud' }));
    expect(await main(['start'], ctx)).toBe(EXIT.failed);
    expect(err).toMatch(/"logLevel".*fix that key \(the file was left as it is\)/);
  });

  it('status shows the state with a settings problem beside it, never instead of it', async () => {
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ logLevel: 'loud' }));
    expect(await main(['status'], ctx)).toBe(EXIT.notRunning);
    expect(out[0]).toBe('Berth: stopped');
    expect(out[1]).toMatch(/^  settings: settings .*"logLevel".*fix that key/);
    out = [];
    writeFileSync(join(dir, 'settings.json'), '{"wslEngine": tru');
    expect(await main(['status', '--json'], ctx)).toBe(EXIT.notRunning);
    expect(JSON.parse(out[0]!)).toMatchObject({ state: 'stopped', settingsError: expect.stringMatching(/is not valid JSON/) });
  });

  it('an unknown settings key is a warning: the rest applies, and Berth keeps it in the file when it saves', async () => {
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ someTypo: 1, integratedDistros: ['Ubuntu'], futureKey: { x: true } }));
    expect(await main(['status'], ctx)).toBe(EXIT.notRunning);
    expect(out).toContain('  integration Ubuntu: stopped');
    expect(out.join('\n')).toMatch(/settings: settings .*: "someTypo", "futureKey" are not settings of this Berth and are ignored \(a newer Berth may have written them; if not, remove the typo\)/);
    expect(await main(['proxy', 'manual', '--http', 'http://proxy.example:3128'], ctx)).toBe(EXIT.ok);
    expect(JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'))).toMatchObject({
      someTypo: 1,
      futureKey: { x: true },
      integratedDistros: ['Ubuntu'],
      proxy: { mode: 'manual', http: 'http://proxy.example:3128' },
    });
  });

  it('refuses reset without --yes and an unknown command with usage (exit 2)', async () => {
    expect(await main(['reset'], ctx)).toBe(EXIT.refused);
    expect(err).toMatch(/run `berth reset --yes` to do it/);
    expect(await main(['frobnicate'], ctx)).toBe(EXIT.usage);
  });
});

describe("a distro of Berth's name that Berth did not make", () => {
  // The marker answers only in distros Berth made; a foreign one has no such file.
  const withDistros = (foreign: string[], ours: string[] = []) => {
    wsl.distros = [...foreign, ...ours].map((name) => ({ name, state: 'Stopped', version: 2, isDefault: false }));
    wsl.onRun = (distro, argv) =>
      argv.join(' ') === 'cat /etc/berth-distro.json' && ours.includes(distro)
        ? { exitCode: 0, stdout: JSON.stringify({ berthDistro: distro, version: '0.1.0' }), stderr: '' }
        : { exitCode: 1, stdout: '', stderr: 'cat: no such file' };
  };

  it('is never wiped, deleted, moved or resized: each command refuses (exit 4), names it and the way out, and unregisters nothing', async () => {
    withDistros(['berth-data']);
    for (const argv of [['reset', '--yes'], ['uninstall', '--delete-data'], ['data', 'move', join(dir, 'elsewhere')], ['data', 'resize', '8'], ['data']]) {
      err = '';
      expect(await main(argv, ctx), argv.join(' ')).toBe(EXIT.refused);
      expect(err, argv.join(' ')).toMatch(/the WSL distro "berth-data" was not made by Berth \(it has no \/etc\/berth-distro.json\), so Berth will not \w+ it; if it is yours, keep it or rename it/);
    }
    expect(wsl.unregistered).toEqual([]);
  });

  it("waits for a trim, resize or move of berth-data's disk before reset or uninstall --delete-data removes it", async () => {
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ wslEngine: false }));
    for (const argv of [
      ['reset', '--yes'],
      ['uninstall', '--delete-data'],
    ]) {
      withDistros([], ['berth-data']);
      wsl.unregistered.length = 0;
      let release = () => {};
      const held = new Promise<void>((r) => (release = r));
      let locked = () => {};
      const isLocked = new Promise<void>((r) => (locked = r));
      // What the backend's trim (or `berth data move`) holds while it works on the disk.
      const trim = withLock(ctx.home.dataLock, async () => {
        locked();
        await held;
      });
      await isLocked;
      const command = main(argv, ctx);
      await new Promise((r) => setTimeout(r, 300));
      expect(wsl.unregistered, argv.join(' ')).toEqual([]);
      release();
      await trim;
      expect(await command, argv.join(' ')).toBe(EXIT.ok);
      expect(wsl.unregistered, argv.join(' ')).toEqual(['berth-data']);
    }
  });

  it('named berth is not unregistered by uninstall, and a foreign berth-data is left alone when its data is kept', async () => {
    withDistros(['berth']);
    expect(await main(['uninstall'], ctx)).toBe(EXIT.refused);
    expect(err).toMatch(/"berth" was not made by Berth .* will not unregister it/);
    withDistros(['berth-data'], ['berth']);
    expect(await main(['uninstall'], ctx)).toBe(EXIT.ok);
    expect(wsl.unregistered).toEqual(['berth']);
    expect(out).toContain('berth-data left alone: Berth did not make it.');
  });

  it("is not what a distro of Berth's that did not answer is taken for (one stopping under a shutdown): the command fails, names it, and touches nothing", async () => {
    withDistros([], ['berth', 'berth-data']);
    // The commands of a distro on its way down are killed: neither cat nor test answers.
    wsl.onRun = () => ({ exitCode: 137, stdout: '', stderr: '' });
    for (const argv of [
      ['reset', '--yes'],
      ['uninstall', '--delete-data'],
    ]) {
      err = '';
      expect(await main(argv, ctx), argv.join(' ')).toBe(EXIT.failed);
      expect(err, argv.join(' ')).toMatch(/cannot read \/etc\/berth-distro.json in the WSL distro "berth(-data)?" \(cat exited 137\): it did not answer, as a distro stopping under `wsl --shutdown` does\. Try again/);
      expect(err, argv.join(' ')).not.toMatch(/not made by Berth/);
    }
    expect(wsl.unregistered).toEqual([]);
  });

  it('on a machine where Berth was never installed, reset and uninstall say so and exit cleanly, writing nothing', async () => {
    withDistros([]);
    expect(await main(['reset', '--yes'], ctx)).toBe(EXIT.ok);
    expect(out.at(-1)).toBe('Berth is not installed here (no berth-data); nothing to reset. `berth enable` installs it.');
    expect(await main(['uninstall', '--delete-data'], ctx)).toBe(EXIT.ok);
    expect(out.at(-1)).toBe('Berth is not installed here; nothing to uninstall.');
    expect(await main(['data', 'resize', '8'], ctx)).toBe(EXIT.refused);
    expect(err).toMatch(/there is no berth-data to resize: Berth is not installed here/);
    expect(wsl.unregistered).toEqual([]);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
  });
});
