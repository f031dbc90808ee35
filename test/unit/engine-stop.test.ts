import { describe, expect, it } from 'vitest';
import { Engine } from '../../installer/engine.js';
import { FakeWsl } from '../helpers/fake-wsl.js';
import { AGENT_COMMAND } from '../../common/shared-area.js';

// `berth stop` after an enable that failed before the distros were imported: nothing of
// Berth can run, so nothing is reported as left behind (it used to say "the agent's stop
// failed (There is no distribution with the supplied name…)").
describe('the engine stop', () => {
  const installed = (names: string[]) => names.map((name) => ({ name, state: 'Stopped' as const, version: 2 as const, isDefault: false }));

  it('asks nothing of distros that are not registered, and says nothing failed', async () => {
    const wsl = new FakeWsl();
    const asked: string[] = [];
    wsl.onRun = (distro) => {
      asked.push(distro);
      return { exitCode: 255, stdout: '', stderr: 'There is no distribution with the supplied name.' };
    };
    await expect(new Engine(wsl, () => {}).stop()).resolves.toBeUndefined();
    expect(asked).toEqual([]);
  });

  it("stops the agent in berth and reports a failed stop in the agent's words", async () => {
    const wsl = new FakeWsl();
    wsl.distros = installed(['berth']);
    const asked: string[][] = [];
    wsl.onRun = (distro, argv) => {
      asked.push([distro, ...argv]);
      return { exitCode: 1, stdout: '', stderr: 'berth-agent: the engine did not stop in time' };
    };
    await expect(new Engine(wsl, () => {}).stop()).rejects.toThrow("the agent's stop failed (berth-agent: the engine did not stop in time)");
    expect(asked).toEqual([['berth', AGENT_COMMAND, 'stop']]);
  });
});
