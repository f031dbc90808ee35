import type { WslHost } from '../wsl-host/host.js';
import { WslError } from '../wsl-host/errors.js';
import { DATA_DISTRO } from './layout.js';

/**
 * Marks berth-data's image sparse, so that what the engine frees (and fstrim reports) goes
 * back to the host. WSL refuses `--set-sparse true` without `--allow-unsafe` while Microsoft
 * keeps sparse VHDs off for a data-corruption risk (MessageSparseVhdDisabled, E_INVALIDARG);
 * Berth does not take that risk for the user, so the refusal is said and the disk works on,
 * keeping its high-water mark on the host. Resolves true when the disk is sparse.
 */
export async function makeSparse(wsl: WslHost, say: (line: string) => void): Promise<boolean> {
  try {
    await wsl.setSparse(DATA_DISTRO, true);
    return true;
  } catch (e) {
    if (!(e instanceof WslError && e.kind === 'invalid-argument')) throw e;
    say(`WSL keeps sparse disks off (${e.detail.split('\n')[0]}); ${DATA_DISTRO} works, but space it frees stays taken on the host until the disk is compacted`);
    return false;
  }
}
