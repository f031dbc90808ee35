import { open, rename, unlink } from 'node:fs/promises';

/** Temporary files this process has made; with its pid, a name no other live writer uses. */
let written = 0;

/** Writes a file so that readers see the old content or the new, never a torn one. */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  // Not random bytes: node:crypto costs each command that loads this ~4 ms to load. A
  // leftover of a crashed writer with the same pid is only overwritten.
  const tmp = `${path}.${process.pid}.${++written}.tmp`;
  const handle = await open(tmp, 'w', mode);
  await handle.chmod(mode); // open's mode is filtered by the umask
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
