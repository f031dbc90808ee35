import { open, rename, unlink, type FileHandle } from 'node:fs/promises';

/** Temporary files this process has made; with its pid, a name no other live writer uses. */
let written = 0;

/**
 * A new file beside `path`. Named by pid and a counter, not random bytes (node:crypto costs
 * each command that loads this ~4 ms): a predictable name, so it is created exclusively
 * (O_EXCL follows no symlink) and a name that is taken, by a crashed writer's leftover or
 * by anyone's symlink, is passed over.
 */
async function createTemporary(path: string, mode: number): Promise<{ tmp: string; handle: FileHandle }> {
  for (let tries = 0; ; tries++) {
    const tmp = `${path}.${process.pid}.${++written}.tmp`;
    try {
      return { tmp, handle: await open(tmp, 'wx', mode) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 100) throw e;
    }
  }
}

/** Writes a file so that readers see the old content or the new, never a torn one. */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const { tmp, handle } = await createTemporary(path, mode);
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
