import { describe, expect, it } from 'vitest';
import { makeSparse } from '../../data-distro/sparse.js';
import { errorFromOutput } from '../../wsl-host/parse.js';
import { FakeWsl } from '../helpers/fake-wsl.js';
import { fill, wslStrings } from '../helpers/wsl-strings.js';

/** A WSL whose --set-sparse answers with `output` (exit -1), or succeeds without one. */
class SparseWsl extends FakeWsl {
  constructor(private readonly output?: string) {
    super();
  }
  override async setSparse(): Promise<void> {
    if (this.output) throw errorFromOutput(this.output, 255);
  }
}

const en = wslStrings.strings['en-US']!;

describe("berth-data's disk made sparse", () => {
  it('is sparse when WSL agrees', async () => {
    const said: string[] = [];
    expect(await makeSparse(new SparseWsl(), (l) => said.push(l))).toBe(true);
    expect(said).toEqual([]);
  });

  it("works on when WSL keeps sparse disks off (E_INVALIDARG, Microsoft's own message), and says what it costs", async () => {
    const said: string[] = [];
    const refusal = `${fill(en.MessageErrorCode!, en.MessageSparseVhdDisabled!, 'Wsl/Service/E_INVALIDARG')}\n`;
    expect(await makeSparse(new SparseWsl(refusal), (l) => said.push(l))).toBe(false);
    expect(said.join('\n')).toMatch(/WSL keeps sparse disks off \(Sparse VHD support is currently disabled due to potential data corruption\.\); berth-data works, but space it frees stays taken/);
  });

  it('fails on any other refusal (a disk in use)', async () => {
    const inUse = `${fill(en.MessageErrorCode!, en.MessageVhdInUse!, 'Wsl/Service/WSL_E_DISTRO_NOT_STOPPED')}\n`;
    await expect(makeSparse(new SparseWsl(inUse), () => undefined)).rejects.toThrow(/VHD is currently in use/);
  });
});
