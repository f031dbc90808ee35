import { describe, expect, it } from 'vitest';
import { bootDistrosEarly } from '../../installer/backend/boot-distros.js';
import { FakeWsl } from '../helpers/fake-wsl.js';

// The backend boots Berth's distros while it loads (a cold start's two longest steps at once);
// what the boot finds wrong is the install check's to say.
describe('booting the distros while the backend loads', () => {
  it('runs `true` as root in berth and berth-data, and a failure there throws nothing', async () => {
    const wsl = new FakeWsl();
    const ran: string[] = [];
    let answered!: () => void;
    const both = new Promise<void>((resolve) => (answered = resolve));
    wsl.run = async (distro, argv, options) => {
      ran.push(`${distro} ${options?.user} ${argv.join(' ')}`);
      if (ran.length === 2) answered();
      if (distro === 'berth-data') throw new Error('There is no distribution with the supplied name.');
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    expect(bootDistrosEarly(wsl)).toBeUndefined();
    await both;
    await new Promise((r) => setTimeout(r, 0)); // the failed one's rejection is handled by now, or vitest reports it
    expect(ran).toEqual(['berth root true', 'berth-data root true']);
  });
});
