import { readFile, rename, rm, stat } from 'node:fs/promises';
import * as z from '../common/zod.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import type { WslHost } from '../wsl-host/host.js';
import { DATA_DISTRO } from './layout.js';
import { makeSparse } from './sparse.js';

/**
 * A journal for replacing berth-data's registration with a new disk image (a move, or the
 * conversion of a directory-backed berth-data): `copying` until the new image is complete
 * and verified at TO.partial, then `verified`. Whatever kills the manager, the next start
 * either drops the half copy (the old one is still registered and untouched) or finishes
 * the switch (the new one is complete); the old copy is deleted only by the switch.
 */
const journalSchema = z.object({
  reason: z.enum(['move', 'convert']),
  from: z.string(),
  to: z.string(),
  phase: z.enum(['copying', 'verified']),
});
export type SwapJournal = z.infer<typeof journalSchema>;

export const stagingOf = (to: string) => `${to}.partial`;

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

export class DiskSwap {
  constructor(
    private readonly wsl: WslHost,
    private readonly journalFile: string,
    /** Records the new place (the install state) before the journal goes. */
    private readonly switched: (to: string) => Promise<void>,
  ) {}

  /** Copies (into the staging file), verifies, then switches berth-data to the new image. */
  async run(reason: SwapJournal['reason'], from: string, to: string, copyAndVerify: (staging: string) => Promise<void>, say: (line: string) => void): Promise<void> {
    const journal: SwapJournal = { reason, from, to, phase: 'copying' };
    await this.write(journal);
    try {
      await copyAndVerify(stagingOf(to));
    } catch (e) {
      await rm(stagingOf(to), { force: true });
      await rm(this.journalFile, { force: true });
      throw e;
    }
    await this.write({ ...journal, phase: 'verified' });
    await this.finish({ ...journal, phase: 'verified' }, say);
  }

  /** Settles a swap a killed manager left; says what it did, or undefined when there was none. */
  async recover(say: (line: string) => void): Promise<string | undefined> {
    const journal = await this.read();
    if (!journal) return undefined;
    const what = journal.reason === 'move' ? 'move' : 'conversion to a disk image';
    if (journal.phase === 'copying') {
      await rm(stagingOf(journal.to), { force: true });
      await rm(this.journalFile, { force: true });
      return `an interrupted ${what} of berth-data was undone: the copy at ${journal.to} was incomplete, so berth-data stays at ${journal.from}`;
    }
    await this.finish(journal, say);
    return `an interrupted ${what} of berth-data was finished: its copy at ${journal.to} was complete and verified, so berth-data is now there`;
  }

  private async finish(journal: SwapJournal, say: (line: string) => void): Promise<void> {
    const staging = stagingOf(journal.to);
    const registered = async () => (await this.wsl.list()).some((d) => d.name.toLowerCase() === DATA_DISTRO);
    // The staging file is renamed only after the old registration is gone: while it exists,
    // a registered berth-data is the old one.
    if (await exists(staging)) {
      if (await registered()) await this.wsl.unregister(DATA_DISTRO);
      await rename(staging, journal.to);
    }
    if (!(await registered())) await this.wsl.importInPlace(DATA_DISTRO, journal.to);
    await makeSparse(this.wsl, say);
    await this.switched(journal.to);
    await rm(this.journalFile, { force: true });
  }

  private async read(): Promise<SwapJournal | undefined> {
    const text = await readFile(this.journalFile, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      return journalSchema.parse(JSON.parse(text));
    } catch (e) {
      throw new Error(`berth-data's move journal ${this.journalFile} is corrupt; nothing was changed. Check where berth-data's disk is (wsl -l, the journal's paths), then delete the journal`, { cause: e });
    }
  }

  private write(journal: SwapJournal): Promise<void> {
    return writeFileAtomic(this.journalFile, JSON.stringify(journal), 0o600);
  }
}
