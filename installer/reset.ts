import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { withLock } from '../common/lock.js';
import type { WslHost } from '../wsl-host/host.js';
import { berthsOwn, DATA_DISTRO, readStateOrWarn } from './distros.js';
import type { HomeLayout } from './home.js';

/**
 * The heart of a factory reset, with the engine already stopped: berth-data (every image,
 * container and volume) is unregistered, and the install state forgets it, so the next start
 * imports a fresh one. Returns whether there was one to wipe. Under berth-data's lock, so no
 * trim, resize or move is working on the disk meanwhile (it waits up to a minute for one).
 */
export function wipeDataDistro(wsl: WslHost, home: HomeLayout, warn: (line: string) => void): Promise<boolean> {
  return withLock(home.dataLock, () => wipeUnlocked(wsl, home, warn), DATA_LOCK_WAIT_MS);
}

/** How long a command that replaces or deletes berth-data waits for a trim, resize or move to end. */
export const DATA_LOCK_WAIT_MS = 60_000;

async function wipeUnlocked(wsl: WslHost, home: HomeLayout, warn: (line: string) => void): Promise<boolean> {
  const present = await berthsOwn(wsl, DATA_DISTRO, 'wipe');
  if (present) await wsl.unregister(DATA_DISTRO);
  const state = await readStateOrWarn(home.state, warn);
  delete state.dataImage;
  delete state.dataDisk; // unregistering deleted the image wherever it was
  await mkdir(dirname(home.state), { recursive: true, mode: 0o700 });
  await writeFileAtomic(home.state, JSON.stringify(state));
  return present;
}
