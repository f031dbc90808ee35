import { open } from 'node:fs/promises';

/** The ext2/3/4 superblock magic 0xEF53, little-endian, at byte 1024 + 56. */
export async function isExt4Image(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const magic = Buffer.alloc(2);
    await handle.read(magic, 0, 2, 0x438);
    return magic[0] === 0x53 && magic[1] === 0xef;
  } finally {
    await handle.close();
  }
}
