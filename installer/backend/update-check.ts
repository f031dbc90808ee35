import { fileIdentity } from '../../common/file-identity.js';

export const UPDATE_NOTICE = 'Berth was updated since it started: run `berth restart` to use the new version (the engine and its containers restart)';

/**
 * Berth's own code on disk as this backend started from it (its entry file's identity): an
 * update or a rebuild replaces the file, and only a restart brings it in. Returns the check,
 * which status runs: `{ update }` once the file is another.
 */
export async function watchOwnCode(entry: string): Promise<() => Promise<{ update?: string }>> {
  const started = await fileIdentity(entry);
  return async () => ((await fileIdentity(entry)) !== started ? { update: UPDATE_NOTICE } : {});
}
