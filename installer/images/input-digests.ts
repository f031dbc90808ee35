import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as z from '../../common/zod.js';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { fileIdentity } from '../../common/file-identity.js';

/*
 * Files' sha256 digests, read again only when a file's identity (inode, size, mtime) changed:
 * the backend checks the images' inputs at every engine start, and reading ~5 MB each time
 * cost ~30 ms of it. By content, not by identity alone: `npm run build` rewrites identical
 * files, and that must not rebuild the images. Kept in a file beside the images too, so that
 * a new backend (a cold start's) trusts what the last one read.
 */

const knownSchema = z.record(z.string(), z.object({ identity: z.string(), digest: z.string().regex(/^[0-9a-f]{64}$/) }));
type Known = z.infer<typeof knownSchema>[string];

const known = new Map<string, Known>();
const loaded = new Set<string>();

/** What an earlier process read, once per file; a missing or unreadable one is no loss (the digests are read again). */
async function loadOnce(cacheFile: string): Promise<void> {
  if (loaded.has(cacheFile)) return;
  loaded.add(cacheFile);
  const saved = knownSchema.safeParse(JSON.parse(await readFile(cacheFile, 'utf8').catch(() => '{}')) as unknown);
  if (!saved.success) return;
  for (const [path, entry] of Object.entries(saved.data)) if (!known.has(path)) known.set(path, entry);
}

/** Each file's sha256, in order; `cacheFile` keeps them across processes. Rejects if a file cannot be read. */
export async function contentDigests(paths: string[], cacheFile?: string): Promise<string[]> {
  if (cacheFile) await loadOnce(cacheFile).catch(() => undefined);
  let changed = false;
  const digests = await Promise.all(
    paths.map(async (path) => {
      const identity = await fileIdentity(path);
      const entry = known.get(path);
      if (entry?.identity === identity) return entry.digest;
      const digest = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
      known.set(path, { identity, digest });
      changed = true;
      return digest;
    }),
  );
  // Only a saving: without the file the next process reads the files again.
  if (changed && cacheFile) await writeFileAtomic(cacheFile, JSON.stringify(Object.fromEntries(known)), 0o600).catch(() => undefined);
  return digests;
}
