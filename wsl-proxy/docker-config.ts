import { chown, lstat, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';

/** The credential helper Berth links into each integrated distro (docker-credential-berth). */
export const CREDS_STORE = 'berth';

/** The docker CLI config as an object ({} for a missing or empty file); undefined when it is not a JSON object. */
function parseConfig(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The user's docker CLI config with `"credsStore": "berth"` added, or undefined when it must
 * be left alone: a store or per-registry helpers of the user's own, or a file that is not a
 * JSON object (the user's, to fix; Berth never rewrites what it cannot read).
 */
export function withBerthCredsStore(text: string | undefined): string | undefined {
  const config = parseConfig(text);
  if (!config || config.credsStore !== undefined || (config.credHelpers && Object.keys(config.credHelpers).length > 0)) return undefined;
  return `${JSON.stringify({ ...config, credsStore: CREDS_STORE }, null, '\t')}\n`;
}

/** The config with Berth's credsStore taken out again; undefined when it is not Berth's. */
export function withoutBerthCredsStore(text: string): string | undefined {
  const config = parseConfig(text);
  if (config?.credsStore !== CREDS_STORE) return undefined;
  delete config.credsStore;
  return `${JSON.stringify(config, null, '\t')}\n`;
}

const BACKUP_SUFFIX = '.before-berth';

/** `{}`, or only the `"auths": {}` the docker CLI writes after a logout. */
function isEmptyConfig(text: string): boolean {
  const config = JSON.parse(text) as Record<string, unknown>;
  return Object.entries(config).every(([key, value]) => key === 'auths' && typeof value === 'object' && value !== null && Object.keys(value).length === 0);
}

/**
 * Points `user`'s docker CLI at Berth's credential store: ~/.docker/config.json gets
 * credsStore "berth" (merged; the file as it was kept beside it as config.json.before-berth),
 * owned by the user, 0600. Says what it did, or why it did nothing.
 */
export async function useBerthCredsStore(user: { name: string; uid: number; gid: number; home: string }, log: (line: string) => void): Promise<void> {
  const dir = join(user.home, '.docker');
  const file = join(dir, 'config.json');
  // Written as root: never through a symlink, never into a directory the user does not own.
  const problem = await unsafeToWrite(dir, file, user.uid);
  if (problem) {
    log(`${file}: ${problem}; left as it is, so docker logins stay in this distro`);
    return;
  }
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  const merged = withBerthCredsStore(text);
  if (merged === undefined) {
    if (parseConfig(text)?.credsStore !== CREDS_STORE) log(`${file}: has a credential store or helpers of its own (or is not JSON); left as it is, so docker logins stay in this distro`);
    return;
  }
  if (!(await stat(dir).catch(() => undefined))) {
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, user.uid, user.gid);
  }
  if (text !== undefined) await writeFileAtomic(`${file}${BACKUP_SUFFIX}`, text, 0o600).then(() => chown(`${file}${BACKUP_SUFFIX}`, user.uid, user.gid));
  await writeFileAtomic(file, merged, 0o600);
  await chown(file, user.uid, user.gid);
  log(`${file}: docker logins now go to Berth's credential store (credsStore "berth")${text !== undefined ? `; the file as it was is ${file}${BACKUP_SUFFIX}` : ''}`);
}

/** Why Berth must not write the user's docker config as root (a symlink, another owner), if so. */
async function unsafeToWrite(dir: string, file: string, uid: number): Promise<string | undefined> {
  const d = await lstat(dir).catch(() => undefined);
  if (d && (!d.isDirectory() || d.uid !== uid)) return `${dir} is not a directory of the user's own`;
  const f = await lstat(file).catch(() => undefined);
  if (f && (!f.isFile() || f.uid !== uid)) return "not a file of the user's own (a symlink?)";
  return undefined;
}

/** Integration off: Berth's credsStore out of the user's config again (the rest as the user left it). */
export async function stopUsingBerthCredsStore(user: { home: string; uid: number; gid: number }): Promise<void> {
  const file = join(user.home, '.docker', 'config.json');
  if (await unsafeToWrite(join(user.home, '.docker'), file, user.uid)) return;
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const undone = text === undefined ? undefined : withoutBerthCredsStore(text);
  if (undone === undefined) return;
  const backup = `${file}${BACKUP_SUFFIX}`;
  if (isEmptyConfig(undone) && !(await stat(backup).catch(() => undefined))) {
    // Berth made the file, and nothing but the CLI's empty `auths` came since: it goes with the integration.
    await rm(file, { force: true });
    return;
  }
  await writeFileAtomic(file, undone, 0o600);
  await chown(file, user.uid, user.gid);
  await rm(backup, { force: true });
}
