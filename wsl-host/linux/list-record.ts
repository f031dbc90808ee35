import { writeFileAtomic } from '../../common/atomic-file.js';
import type { HostLayout } from './config.js';
import { fileIdentity } from '../../common/file-identity.js';
import type { RegistryFile } from './registry.js';
import type { ProcessIdentity } from '../../common/process.js';

/**
 * The list record: what the native entry (wsl-host/native/wsl-entry.c) needs to answer
 * `-l -v` without a Node start, which the manager asks at every engine start. Written
 * after each change of the registry, it holds the identity of the registry.json it was made
 * from (a record of another version is not used) and, for each distro, where its init's
 * identity is (init.id: pid and start time), since a distro starts and stops without the
 * registry changing.
 *
 * NUL-terminated fields: version, registry identity, the count of distros, then for each:
 * name, state, WSL version, "1" if it is the default else "0", its init.id path.
 */
export const LIST_RECORD_VERSION = 'berth-list 1';

export function encodeListRecord(registryIdentity: string, reg: RegistryFile, initIdFile: (id: string) => string): string {
  const fields = [LIST_RECORD_VERSION, registryIdentity, String(reg.distros.length)];
  for (const d of reg.distros) fields.push(d.name, d.state, String(d.version), d.id === reg.defaultId ? '1' : '0', initIdFile(d.id));
  return fields.map((f) => `${f}\0`).join('');
}

/** Writes the record for `reg`, which must be what registry.json holds now. */
export async function writeListRecord(layout: HostLayout, reg: RegistryFile): Promise<void> {
  const record = encodeListRecord(await fileIdentity(layout.registryFile), reg, (id) => layout.initIdFile(id));
  await writeFileAtomic(layout.listRecord, record, 0o600);
}

/** A running distro's init, for the record's reader: pid and start time. */
export function encodeInitId(init: ProcessIdentity): string {
  return `${init.pid}\0${init.startTime}\0`;
}

/**
 * The record again, outside the registry's lock (a Node `-l` found it missing or stale, as
 * after an upgrade): written only if registry.json did not change while it was read, so a
 * record never pairs one version's identity with another's distros.
 */
export async function refreshListRecord(layout: HostLayout, read: () => Promise<RegistryFile>): Promise<void> {
  const before = await fileIdentity(layout.registryFile);
  const reg = await read();
  if ((await fileIdentity(layout.registryFile)) !== before || before === '-') return;
  await writeFileAtomic(
    layout.listRecord,
    encodeListRecord(before, reg, (id) => layout.initIdFile(id)),
    0o600,
  );
}
