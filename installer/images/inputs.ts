import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { contentDigests } from './input-digests.js';
import { BERTH_REPO } from '../repo.js';
import { locate } from './collect.js';
import { defaultSources, type ImageSources } from './sources.js';

/*
 * What the images are and what they are made of, without what builds them (build.ts, with
 * the tar and YAML libraries): the backend checks the fingerprint at every engine start and
 * loads build.ts only to build.
 */

export type ImageKind = 'berth' | 'system' | 'version-pack' | 'berth-data';

export interface BuiltImage {
  kind: ImageKind;
  /** File name inside the output directory: `<kind>-<first 12 hex of sha256>.tar.gz`. */
  file: string;
  sha256: string;
  size: number;
}

export interface ImageManifest {
  berthVersion: string;
  /** What the images were built from (see inputFingerprint): a different one means rebuild. */
  inputs?: string;
  images: Record<ImageKind, BuiltImage>;
}

/**
 * A cheap fingerprint of everything the images are made of: Berth's version, the agent
 * bundle, the LinuxKit directory (berth.yml and the files it names) and Berth's native
 * programs (by content), and each source binary (by path, size, mtime). `digestCache`: a
 * file that keeps the content digests across processes (input-digests.ts).
 */
export async function inputFingerprint(sources: ImageSources = defaultSources(), digestCache?: string): Promise<string> {
  // Every look at the disk at once; hashed below in a fixed order.
  const trees = await Promise.all(
    [LINUXKIT_DIR, AGENT_BUNDLE_DIR].map(async (dir) => {
      const names = (await readdir(dir, { recursive: true })).sort();
      const isFile = await Promise.all(names.map(async (f) => (await stat(join(dir, f))).isFile()));
      return names.filter((_, i) => isFile[i]).map((name) => ({ name, path: join(dir, name) }));
    }),
  );
  const files = trees.flat();
  const [version, digests, binaries] = await Promise.all([
    berthVersion(),
    contentDigests([...files.map((f) => f.path), ...NATIVE_BINARIES], digestCache),
    Promise.all(
      [sources.busybox, sources.node, ...sources.iptables, ...sources.versionPack].map(async (source) => {
        const path = await locate(source).catch(() => source.path);
        const st = await stat(path).catch(() => undefined);
        return `${path}:${st?.size}:${st?.mtimeMs}`;
      }),
    ),
  ]);
  const hash = createHash('sha256').update(version);
  files.forEach((f, i) => hash.update(f.name).update(digests[i]!));
  for (const digest of digests.slice(files.length)) hash.update(digest);
  for (const binary of binaries) hash.update(binary);
  return hash.digest('hex');
}

/** berth.yml and the files its `files` take their contents from (`source`). */
export const LINUXKIT_DIR = join(BERTH_REPO, 'bootstrap-distro/linuxkit');
export const LINUXKIT_YML = join(LINUXKIT_DIR, 'berth.yml');
/** berth-relay, built by `npm run build` (scripts/build-native.mjs). */
export const RELAY_BINARY = join(BERTH_REPO, 'dist/native/berth-relay');
/** berth-engine-init, likewise: the engine namespaces' pid 1 (bootstrap-distro/engine-init/). */
export const ENGINE_INIT_BINARY = join(BERTH_REPO, 'dist/native/berth-engine-init');
/** berth-runc, likewise: the engine's `runc` (berth.yml says why). */
export const RUNC_WRAPPER = join(BERTH_REPO, 'dist/native/berth-runc');
/** Every native program the images ship (the berth distro, the system image): a change to any of them means a rebuild. */
const NATIVE_BINARIES = [RELAY_BINARY, ENGINE_INIT_BINARY, RUNC_WRAPPER];
/** The bundled agent: berth-agent.mjs and the chunks it loads on demand. */
export const AGENT_BUNDLE_DIR = join(BERTH_REPO, 'dist/agent');

export async function berthVersion(): Promise<string> {
  return (JSON.parse(await readFile(join(BERTH_REPO, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Marks a distro as Berth's own: the manager never unregisters or overwrites one without it. */
export const DISTRO_MARKER = 'etc/berth-distro.json';

export interface DistroMarker {
  berthDistro: 'berth' | 'berth-data';
  version: string;
}
