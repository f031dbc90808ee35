import { describe, expect, it } from 'vitest';
import { bootDistrosEarly, bootWhileBackendLoads } from '../../installer/backend/boot-distros.js';
import type { ExecOptions, ExecResult } from '../../wsl-host/host.js';
import { FakeWsl } from '../helpers/fake-wsl.js';

/** Records each run with its user; berth-data is not there yet (a first enable). */
class BootingWsl extends FakeWsl {
  readonly ran: string[] = [];
  private answered!: () => void;
  readonly both = new Promise<void>((resolve) => (this.answered = resolve));

  override async run(distro: string, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    this.ran.push(`${distro} ${options?.user} ${argv.join(' ')}`);
    if (this.ran.length === 2) this.answered();
    if (distro === 'berth-data') throw new Error('There is no distribution with the supplied name.');
    return { exitCode: 0, stdout: '', stderr: '' };
  }
}

// The CLI boots Berth's distros while the backend it spawned loads (a cold start's two longest
// steps at once); what the boot finds wrong is the install check's to say.
describe('booting the distros while the backend loads', () => {
  it('runs `true` as root in berth and berth-data, and a failure there throws nothing', async () => {
    const wsl = new BootingWsl();
    expect(bootDistrosEarly(wsl)).toBeUndefined();
    await wsl.both;
    await new Promise((r) => setTimeout(r, 0)); // the failed one's rejection is handled by now, or vitest reports it
    expect(wsl.ran).toEqual(['berth root true', 'berth-data root true']);
  });

  it('is what the CLI runs once it has spawned the backend; a WSL driver that cannot load throws nothing there', async () => {
    const wsl = new BootingWsl();
    expect(bootWhileBackendLoads({ wsl: () => Promise.resolve(wsl) })).toBeUndefined();
    await wsl.both;
    expect(wsl.ran).toEqual(['berth root true', 'berth-data root true']);
    bootWhileBackendLoads({ wsl: () => Promise.reject(new Error('no WSL driver')) });
    await new Promise((r) => setTimeout(r, 0)); // an unhandled rejection would fail the run here
  });
});
