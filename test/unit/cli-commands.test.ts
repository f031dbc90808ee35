import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, main } from '../../installer/cli.js';
import type { CliContext } from '../../installer/commands/context.js';
import { HomeLayout } from '../../installer/home.js';
import { FakeWsl } from '../helpers/fake-wsl.js';

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
  ctx = { home: new HomeLayout(dir), wsl, say: (l) => out.push(l), warn: (t) => (err += t), confirm: async () => false };
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
    expect(await main(['status'], ctx)).toBe(EXIT.failed);
    expect(err).toMatch(/"logLevel".*fix that key \(the file was left as it is\)/);
  });

  it('refuses reset without --yes and an unknown command with usage (exit 2)', async () => {
    expect(await main(['reset'], ctx)).toBe(EXIT.refused);
    expect(err).toMatch(/run `berth reset --yes` to do it/);
    expect(await main(['frobnicate'], ctx)).toBe(EXIT.usage);
  });
});
