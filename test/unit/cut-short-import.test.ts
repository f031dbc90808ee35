import { describe, expect, it } from 'vitest';
import { BERTH_DISTRO, clearCutShortImport, DATA_DISTRO } from '../../installer/distros.js';
import type { DistroInfo } from '../../wsl-host/host.js';
import { FakeWsl } from '../helpers/fake-wsl.js';

const distro = (name: string, state: DistroInfo['state']): DistroInfo => ({ name, state, version: 2, isDefault: false });

describe('a distro that real WSL lists as Installing after a crash', () => {
  it('is unregistered for the bootstrap distro, so the install imports it again, and says so', async () => {
    const wsl = new FakeWsl();
    const present = new Map([
      [BERTH_DISTRO, distro(BERTH_DISTRO, 'Installing')],
      [DATA_DISTRO, distro(DATA_DISTRO, 'Stopped')],
    ]);
    const steps: string[] = [];
    await clearCutShortImport(wsl, present, (s) => steps.push(s));
    expect(wsl.unregistered).toEqual([BERTH_DISTRO]);
    expect([...present.keys()]).toEqual([DATA_DISTRO]);
    expect(steps.join('\n')).toMatch(/berth was left Installing by an import that did not finish; unregistering it/);
  });

  it('is never unregistered for the data distro: the error says what to run, and nothing is touched', async () => {
    const wsl = new FakeWsl();
    const present = new Map([[DATA_DISTRO, distro(DATA_DISTRO, 'Converting')]]);
    await expect(clearCutShortImport(wsl, present, () => undefined)).rejects.toThrow(/lists berth-data as Converting.*wsl --unregister berth-data.*berth enable/s);
    expect(wsl.unregistered).toEqual([]);
  });

  it('leaves running and stopped distros alone', async () => {
    const wsl = new FakeWsl();
    await clearCutShortImport(
      wsl,
      new Map([
        [BERTH_DISTRO, distro(BERTH_DISTRO, 'Running')],
        [DATA_DISTRO, distro(DATA_DISTRO, 'Stopped')],
      ]),
      () => undefined,
    );
    expect(wsl.unregistered).toEqual([]);
  });
});
