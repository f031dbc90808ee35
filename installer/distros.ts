import { join } from 'node:path';
import * as z from '../common/zod.js';
import type { DistroInfo, DistroState, WslHost } from '../wsl-host/host.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { DataDisk, GIB } from '../data-distro/data-disk.js';
import { DISTRO_MARKER, type DistroMarker, type ImageManifest } from './images/inputs.js';

import { BERTH_DISTRO, DATA_DISTRO } from './distro-names.js';

export { BERTH_DISTRO, DATA_DISTRO } from './distro-names.js';
import { readJsonFile } from '../common/json-file.js';
import { ForeignDistroError } from './foreign-distro-error.js';

/** What the manager installed, to tell an upgrade from an up-to-date install. */
const installStateSchema = z.object({
  berthImage: z.string().optional(),
  dataImage: z.string().optional(),
  /** berth-data's disk image, once it was moved out of its import directory (`berth data move`). */
  dataDisk: z.string().optional(),
});
export type InstallState = z.infer<typeof installStateSchema>;

/** Where the berth distro records the image it was imported from (the state file may be lost). */
const IMAGE_RECORD = '/etc/berth-image.sha256';

/** The state file; a missing one is a fresh install. An unreadable one throws, naming the file. */
export function readState(file: string): Promise<InstallState> {
  return readJsonFile(file, installStateSchema, {
    missing: () => ({}),
    invalid: () => `Berth's install state ${file} is corrupt`,
    unreadable: (message) => `cannot read Berth's install state ${file}: ${message}`,
  });
}

/** readState, but a corrupt file is reported and read as empty (the distros then say what they hold). */
export async function readStateOrWarn(file: string, warn: (line: string) => void): Promise<InstallState> {
  try {
    return await readState(file);
  } catch (e) {
    warn(`${(e as Error).message}; asking the distros themselves which image they hold (data is kept either way)`);
    return {};
  }
}

/**
 * A file of one of Berth's distros, read as root; undefined only when the distro answers
 * that it is not there. A command that could not run (the distro stopping under a
 * `wsl --shutdown`, a killed wsl.exe) throws: taking that for a missing file would refuse
 * a distro of ours as foreign, or re-import one that is up to date.
 */
async function readDistroFile(wsl: WslHost, name: string, path: string): Promise<string | undefined> {
  const r = await wsl.run(name, ['cat', path], { user: 'root' });
  if (r.exitCode === 0) return r.stdout;
  // `test` answers 1 for a file that is not there; anything else is a distro that did not answer.
  const absent = await wsl.run(name, ['test', '-e', path], { user: 'root' });
  if (absent.exitCode === 1) return undefined;
  throw new Error(
    `cannot read ${path} in the WSL distro "${name}" (cat exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}): it did not answer, as a distro stopping under \`wsl --shutdown\` does. ` +
      `Try again (the engine's start does so by itself); if it keeps failing, \`wsl -d ${name} -u root cat ${path}\` shows why, and a distro of this name that is not Berth's must be renamed`,
  );
}

/** The image the berth distro says it was imported from (older imports did not record it). */
async function recordedImage(wsl: WslHost, name: string): Promise<string | undefined> {
  return (await readDistroFile(wsl, name, IMAGE_RECORD))?.trim() || undefined;
}

/** Whether a registered distro carries our marker, and for which role. */
async function markerOf(wsl: WslHost, name: string): Promise<DistroMarker | undefined> {
  const text = await readDistroFile(wsl, name, `/${DISTRO_MARKER}`);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as DistroMarker;
  } catch {
    return undefined;
  }
}

/** Whether a distro of this name is registered, and whether Berth made it (its marker). */
export async function ownershipOf(wsl: WslHost, name: typeof BERTH_DISTRO | typeof DATA_DISTRO): Promise<'absent' | 'berths' | 'foreign'> {
  if (!(await wsl.list()).some((d) => d.name.toLowerCase() === name)) return 'absent';
  return (await markerOf(wsl, name))?.berthDistro === name ? 'berths' : 'foreign';
}

/** The refusal for a distro of Berth's name that Berth did not make: it names the distro and the way out. */
export function foreignDistro(name: string, action: string): ForeignDistroError {
  return new ForeignDistroError(
    `the WSL distro "${name}" was not made by Berth (it has no /${DISTRO_MARKER}), so Berth will not ${action} it; if it is yours, keep it or rename it (wsl --export ${name} FILE, then wsl --unregister ${name} and wsl --import OTHER-NAME DIR FILE)`,
  );
}

/**
 * Before Berth unregisters, wipes, moves or resizes one of its distros: whether it is there
 * (false: nothing to do), and proof that it is Berth's own. A foreign one is refused before
 * anything is touched.
 */
export async function berthsOwn(wsl: WslHost, name: typeof BERTH_DISTRO | typeof DATA_DISTRO, action: string): Promise<boolean> {
  const owner = await ownershipOf(wsl, name);
  if (owner === 'foreign') throw foreignDistro(name, action);
  return owner === 'berths';
}

export type InstallStep = (message: string) => void;

/**
 * Makes sure `berth` and `berth-data` are imported from these images: imports what is
 * missing, re-imports `berth` when its image changed (an upgrade), never touches
 * `berth-data` once it exists (it holds the data), and refuses names it did not make.
 * A failed import is rolled back by unregistering what it created.
 */
/** berth-data's disk as the install state places it; `recordFile` keeps a new place there. */
export function dataDiskOf(wsl: WslHost, home: { distroDir: (n: string) => string; state: string; dataMoveJournal: string }, state: InstallState): DataDisk {
  return new DataDisk(wsl, {
    dir: home.distroDir(DATA_DISTRO),
    journal: home.dataMoveJournal,
    recordedFile: state.dataDisk,
    recordFile: async (file) => {
      // Read again: the state may have changed since (an upgrade of the berth distro).
      const now = await readState(home.state).catch(() => state);
      if (file) now.dataDisk = file;
      else delete now.dataDisk;
      state.dataDisk = now.dataDisk;
      await writeFileAtomic(home.state, JSON.stringify(now));
    },
  });
}

/** A distro of Berth's name that Berth may install over: its marker says so, and it is WSL 2. */
function refuseUnlessBerths(name: string, kind: 'berth' | 'berth-data', version: number, marker: DistroMarker | undefined): void {
  if (marker?.berthDistro !== kind) {
    throw new ForeignDistroError(
      `a WSL distro named "${name}" exists but was not made by Berth (no /${DISTRO_MARKER}); Berth will not touch it. Rename or unregister it yourself (wsl --export/--unregister ${name}), then enable Berth again.`,
    );
  }
  if (version !== 2) throw new ForeignDistroError(`the distro "${name}" is WSL ${version}; Berth needs WSL 2. Unregister it (berth uninstall) and enable again.`);
}

export async function installDistros(
  wsl: WslHost,
  images: { dir: string; manifest: ImageManifest },
  home: { distroDir: (n: string) => string; state: string; dataMoveJournal: string },
  step: InstallStep,
  beforeUpgrade: () => Promise<void>,
  warn: (line: string) => void = step,
  dataDiskBytes = 64 * GIB,
): Promise<{ upgraded: boolean }> {
  const state = await readStateOrWarn(home.state, warn);
  const present = new Map((await wsl.list()).map((d) => [d.name.toLowerCase(), d]));
  await clearCutShortImport(wsl, present, step);
  const roles = [
    [BERTH_DISTRO, 'berth'],
    [DATA_DISTRO, 'berth-data'],
  ] as const;
  // Both markers at once: each costs a process in the distro.
  const markers = await Promise.all(roles.map(([name]) => (present.has(name) ? markerOf(wsl, name) : Promise.resolve(undefined))));
  let upgraded = false;
  for (const [i, [name, kind]] of roles.entries()) {
    const image = images.manifest.images[kind];
    const existing = present.get(name);
    if (existing) {
      refuseUnlessBerths(name, kind, existing.version, markers[i]);
      if (kind === 'berth-data') {
        await ensureDataDisk(wsl, join(images.dir, image.file), home, state, dataDiskBytes, step, beforeUpgrade, warn, true);
        continue;
      }
      const installed = state.berthImage ?? (await recordedImage(wsl, name));
      if (installed === image.sha256) {
        if (state.berthImage !== installed) {
          state.berthImage = installed; // the state file was lost or corrupt: written anew
          await writeFileAtomic(home.state, JSON.stringify(state));
        }
        continue;
      }
      step(`upgrading ${name} (image ${image.sha256.slice(0, 12)}); ${DATA_DISTRO} and its data are kept`);
      await beforeUpgrade();
      await wsl.unregister(name);
      upgraded = true;
    }
    if (kind === 'berth-data') {
      await ensureDataDisk(wsl, join(images.dir, image.file), home, state, dataDiskBytes, step, beforeUpgrade, warn, false);
      state.dataImage = image.sha256;
      await writeFileAtomic(home.state, JSON.stringify(state));
      continue;
    }
    step(`importing ${name} from ${image.file}`);
    await importWithRollback(wsl, name, home.distroDir(name), join(images.dir, image.file), (done, total) => step(`importing ${name}: ${total ? Math.floor((done / total) * 100) : 0}%`));
    if (kind === 'berth') {
      state.berthImage = image.sha256;
      await wsl.run(name, ['sh', '-c', 'printf "%s\\n" "$1" > "$2"', 'sh', image.sha256, IMAGE_RECORD], { user: 'root' });
    } else state.dataImage = image.sha256;
    await writeFileAtomic(home.state, JSON.stringify(state));
  }
  return { upgraded };
}

/**
 * A distro that real WSL lists as Installing (or another busy state) after a crash cannot
 * start. The bootstrap distro holds nothing of the user's: it is unregistered and imported
 * again. The data distro may hold the user's data, so Berth only says what to do.
 */
export async function clearCutShortImport(wsl: WslHost, present: Map<string, DistroInfo>, step: InstallStep): Promise<void> {
  const berth = present.get(BERTH_DISTRO);
  if (berth && isBusy(berth.state)) {
    step(`${BERTH_DISTRO} was left ${berth.state} by an import that did not finish; unregistering it to import it again (it holds no data of yours)`);
    await wsl.unregister(BERTH_DISTRO);
    present.delete(BERTH_DISTRO);
  }
  const data = present.get(DATA_DISTRO);
  if (data && isBusy(data.state)) {
    throw new Error(
      `WSL lists ${DATA_DISTRO} as ${data.state}: its import or conversion did not finish, so it cannot start. Berth does not unregister the data distro itself. If it holds nothing you need, run \`wsl --unregister ${DATA_DISTRO}\` and \`berth enable\` again; otherwise restart Windows (WSL may finish the operation) and try again.`,
    );
  }
}

const isBusy = (state: DistroState) => state !== 'Running' && state !== 'Stopped';

/** berth-data as a disk image (data-distro/data-disk.ts); the state file records where it is. */
async function ensureDataDisk(
  wsl: WslHost,
  tarball: string,
  home: { distroDir: (n: string) => string; state: string; dataMoveJournal: string },
  state: InstallState,
  sizeBytes: number,
  step: InstallStep,
  stopEngine: () => Promise<void>,
  warn: (line: string) => void,
  listed?: boolean,
): Promise<void> {
  const disk = dataDiskOf(wsl, home, state);
  await disk.ensure(tarball, sizeBytes, step, stopEngine, warn, listed);
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
    throw new Error(`importing ${name} failed: ${(e as Error).message}`, { cause: e });
  }
}
