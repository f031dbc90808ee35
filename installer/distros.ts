import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WslHost } from '../wsl-host/host.js';
import { writeFileAtomic } from '../wsl-host/linux/atomic-file.js';
import { DISTRO_MARKER, type DistroMarker, type ImageManifest } from './images/build.js';

export const BERTH_DISTRO = 'berth';
export const DATA_DISTRO = 'berth-data';

/** Refused: a distro with Berth's name that Berth did not make. */
export class ForeignDistroError extends Error {}

/** What the manager installed, to tell an upgrade from an up-to-date install. */
export interface InstallState {
  berthImage?: string;
  dataImage?: string;
}

export async function readState(file: string): Promise<InstallState> {
  return readFile(file, 'utf8').then((t) => JSON.parse(t) as InstallState).catch(() => ({}));
}

/** Whether a registered distro carries our marker, and for which role. */
async function markerOf(wsl: WslHost, name: string): Promise<DistroMarker | undefined> {
  const r = await wsl.run(name, ['cat', `/${DISTRO_MARKER}`], { user: 'root' });
  if (r.exitCode !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as DistroMarker;
  } catch {
    return undefined;
  }
}

export type InstallStep = (message: string) => void;

/**
 * Makes sure `berth` and `berth-data` are imported from these images: imports what is
 * missing, re-imports `berth` when its image changed (an upgrade), never touches
 * `berth-data` once it exists (it holds the data), and refuses names it did not make.
 * A failed import is rolled back by unregistering what it created.
 */
export async function installDistros(
  wsl: WslHost,
  images: { dir: string; manifest: ImageManifest },
  home: { distroDir: (n: string) => string; state: string },
  step: InstallStep,
  beforeUpgrade: () => Promise<void>,
): Promise<{ upgraded: boolean }> {
  const state = await readState(home.state);
  const present = new Map((await wsl.list()).map((d) => [d.name.toLowerCase(), d]));
  const roles = [[BERTH_DISTRO, 'berth'], [DATA_DISTRO, 'berth-data']] as const;
  // Both markers at once: each costs a process in the distro.
  const markers = await Promise.all(roles.map(([name]) => (present.has(name) ? markerOf(wsl, name) : undefined)));
  let upgraded = false;
  for (const [i, [name, kind]] of roles.entries()) {
    const image = images.manifest.images[kind];
    const existing = present.get(name);
    if (existing) {
      const marker = markers[i];
      if (marker?.berthDistro !== kind) {
        throw new ForeignDistroError(
          `a WSL distro named "${name}" exists but was not made by Berth (no /${DISTRO_MARKER}); Berth will not touch it. Rename or unregister it yourself (wsl --export/--unregister ${name}), then enable Berth again.`,
        );
      }
      if (existing.version !== 2) throw new ForeignDistroError(`the distro "${name}" is WSL ${existing.version}; Berth needs WSL 2. Unregister it (berth uninstall) and enable again.`);
      const installed = kind === 'berth' ? state.berthImage : state.dataImage;
      if (kind === 'berth-data' || installed === image.sha256) continue;
      step(`upgrading ${name} (image ${image.sha256.slice(0, 12)}); ${DATA_DISTRO} and its data are kept`);
      await beforeUpgrade();
      await wsl.unregister(name);
      upgraded = true;
    }
    step(`importing ${name} from ${image.file}`);
    await importWithRollback(wsl, name, home.distroDir(name), join(images.dir, image.file), (done, total) =>
      step(`importing ${name}: ${total ? Math.floor((done / total) * 100) : 0}%`),
    );
    if (kind === 'berth') state.berthImage = image.sha256;
    else state.dataImage = image.sha256;
    await writeFileAtomic(home.state, JSON.stringify(state));
  }
  return { upgraded };
}

async function importWithRollback(wsl: WslHost, name: string, dir: string, file: string, progress: (d: number, t: number | undefined) => void): Promise<void> {
  let lastPercent = -1;
  try {
    await wsl.import(name, dir, file, {
      version: 2,
      onProgress: (d, t) => {
        const p = t ? Math.floor((d / t) * 10) : 0;
        if (p !== lastPercent) {
          lastPercent = p;
          progress(d, t);
        }
      },
    });
  } catch (e) {
    // wsl.exe may leave a registration behind on failure; ours is gone already, unregister is a no-op then.
    await wsl.unregister(name).catch(() => {});
    throw new Error(`importing ${name} failed: ${(e as Error).message}`);
  }
}
