import { agentLauncher, DAEMON_NODE_FLAGS, daemonMallocExports } from '../../common/node-flags.js';
import { LEGACY_XTABLES, IPTABLES_TOOLS } from '../../common/engine-iptables.js';
import { cp, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { join } from 'node:path';
import { parseLinuxkit } from '../../bootstrap-distro/agent/linuxkit-yaml.js';
import { COMPILED_LINUXKIT } from '../../bootstrap-distro/agent/linuxkit.js';
import { encodeBootPlan } from '../../bootstrap-distro/agent/boot-plan.js';
import { DATA_DISTRO_FILES, STORE_DIRS } from '../../data-distro/layout.js';
import { locate, stageBinaryWithLibs, stageBusybox, stageDirs, stageFile, stageSymlink, stageText } from './collect.js';
import { packDeterministic, sha256File } from './deterministic-tar.js';
import { type Progress, silentProgress } from './progress.js';
import { defaultSources, type ImageSources } from './sources.js';
import { removeTree } from '../../common/remove-tree.js';
import {
  AGENT_BUNDLE_DIR,
  berthVersion,
  type BuiltImage,
  DISTRO_MARKER,
  type DistroMarker,
  ENGINE_INIT_BINARY,
  type ImageKind,
  type ImageManifest,
  inputFingerprint,
  LINUXKIT_DIR,
  LINUXKIT_YML,
  RELAY_BINARY,
  RUNC_WRAPPER,
} from './inputs.js';

/** Where the agent finds the images inside the `berth` distro. */
export const DISTRO_IMAGES_DIR = 'opt/berth/images';
const NODE_DIR = 'opt/berth/node';

/**
 * The images are staged from this machine's own binaries, and their launch scripts name
 * x86_64's loader and library paths: refused elsewhere, before anything is built.
 */
export function checkBuildArch(arch: string = process.arch): void {
  if (arch !== 'x64') {
    throw new Error(
      `Berth's images are built for x86_64 only, and this machine is ${arch}: the launch scripts name x86_64's loader (ld-linux-x86-64.so.2) and /usr/lib/x86_64-linux-gnu. Build on an x86_64 machine and point BERTH_IMAGES at the result`,
    );
  }
}

/**
 * Builds the four images into outDir: same inputs give byte-identical files. Each is
 * named by its content hash; manifest.json lists them.
 */
export async function buildImages(outDir: string, options: { sources?: ImageSources; progress?: Progress; version?: string } = {}): Promise<ImageManifest> {
  checkBuildArch();
  const sources = options.sources ?? defaultSources();
  const progress = options.progress ?? silentProgress;
  const version = options.version ?? (await berthVersion());
  await mkdir(outDir, { recursive: true });
  // Staged beside the images, so a build killed half-way leaves nothing elsewhere, and the
  // next build clears what it left.
  const work = join(outDir, '.staging');
  await removeTree(work);
  await mkdir(work, { mode: 0o700 });
  try {
    const steps: Array<[ImageKind, string, (staging: string, built: Partial<Record<ImageKind, BuiltImage>>) => Promise<void>]> = [
      ['system', 'system image', (s) => stageSystemImage(s, sources)],
      ['version-pack', 'version pack', (s) => stageVersionPack(s, sources)],
      ['berth', 'berth distro', (s, built) => stageBerthDistro(s, sources, version, built, outDir)],
      ['berth-data', 'berth-data distro', (s) => stageDataDistro(s, sources, version)],
    ];
    const built: Partial<Record<ImageKind, BuiltImage>> = {};
    for (const [i, [kind, label, stage]] of steps.entries()) {
      progress.step(i + 1, steps.length, label);
      const staging = join(work, kind);
      await mkdir(staging);
      await stage(staging, built);
      const tmpFile = join(outDir, `.${kind}.tar.gz.partial`);
      await packDeterministic(staging, tmpFile, (done, total) => progress.update(done, total));
      const sha256 = await sha256File(tmpFile);
      const file = `${kind}-${sha256.slice(0, 12)}.tar.gz`;
      await rename(tmpFile, join(outDir, file));
      const size = (await stat(join(outDir, file))).size;
      built[kind] = { kind, file, sha256, size };
      progress.done(`${file} (${(size / 2 ** 20).toFixed(1)} MiB)`);
      await removeTree(staging);
    }
    const manifest: ImageManifest = { berthVersion: version, inputs: await inputFingerprint(sources), images: built as Record<ImageKind, BuiltImage> };
    // Last, and whole or not at all: a manifest names only images that are there.
    await writeFileAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await removeStale(outDir, manifest);
    return manifest;
  } finally {
    await removeTree(work);
  }
}

/** Older builds' images in the same directory are replaced, not accumulated. */
async function removeStale(outDir: string, manifest: ImageManifest): Promise<void> {
  const keep = new Set(['manifest.json', ...Object.values(manifest.images).map((i) => i.file)]);
  for (const name of await readdir(outDir)) {
    if (!keep.has(name) && /^(berth|system|version-pack|berth-data)-[0-9a-f]{12}\.tar\.gz$/.test(name)) {
      await rm(join(outDir, name), { force: true });
    }
  }
}

const BASE_DIRS = ['bin', 'etc', 'root', 'tmp', 'var', 'run', 'proc', 'sys', 'dev', 'mnt'];

async function stageSystemImage(staging: string, sources: ImageSources): Promise<void> {
  await stageDirs(staging, [...BASE_DIRS, 'sbin', 'usr/bin', 'usr/sbin', 'var/lib', 'mnt/wsl', 'mnt/host', 'etc/berth']);
  await stageBusybox(staging, await locate(sources.busybox));
  for (const source of sources.iptables) {
    const binary = await locate(source);
    await stageBinaryWithLibs(staging, binary, `usr/sbin/${source.name}`);
  }
  for (const tool of IPTABLES_TOOLS) await stageSymlink(staging, `usr/sbin/${tool}`, LEGACY_XTABLES);
  // iptables loads its matches and targets as modules at run time.
  const xtables = '/usr/lib/x86_64-linux-gnu/xtables';
  if (await stat(xtables).catch(() => undefined)) {
    await cp(xtables, join(staging, xtables), { recursive: true, dereference: true });
  }
  await stageSymlink(staging, 'var/run', '../run');
  // First on the engine's PATH, ahead of the version pack's /usr/bin/runc, which it runs.
  await stageDirs(staging, ['usr/local/bin']);
  await stageFile(staging, RUNC_WRAPPER, 'usr/local/bin/runc', 0o755);
  await stageText(staging, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  await stageText(staging, 'etc/group', 'root:x:0:\ndocker:x:2375:\n');
  await stageText(staging, 'etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  const yml = await readFile(LINUXKIT_YML, 'utf8');
  const config = parseLinuxkit(yml, LINUXKIT_YML);
  await stageText(staging, 'etc/berth/linuxkit.yml', yml);
  // The same entries compiled: JSON for the supervisor, the boot plan for berth-engine-init.
  await stageText(staging, COMPILED_LINUXKIT, `${JSON.stringify(config)}\n`);
  await stageText(staging, 'etc/berth/boot.plan', encodeBootPlan(config));
  // LinuxKit writes `files` into the image at build time.
  for (const f of config.files) {
    const contents = f.source === undefined ? (f.contents ?? '') : await readFile(join(LINUXKIT_DIR, f.source), 'utf8');
    await stageText(staging, f.path, contents, parseInt(f.mode, 8));
  }
}

async function stageVersionPack(staging: string, sources: ImageSources): Promise<void> {
  await stageDirs(staging, ['usr/bin', 'etc/berth']);
  const pack: Record<string, string> = {};
  for (const source of sources.versionPack) {
    const binary = await locate(source);
    await stageBinaryWithLibs(staging, binary, `usr/bin/${source.name}`);
    pack[source.name] = binary;
  }
  await stageText(staging, 'etc/berth/version-pack.json', `${JSON.stringify({ binaries: Object.keys(pack).sort() }, null, 2)}\n`);
}

function osRelease(name: string, version: string): string {
  return `NAME="${name}"\nPRETTY_NAME="${name} ${version}"\nID=berth\nVERSION_ID="${version}"\nVERSION="${version}"\nBERTH_VERSION="${version}"\n`;
}

/** The berth distro's launch scripts, and what user distros run from the shared area. */
async function stageLaunchers(staging: string, busybox: string): Promise<void> {
  await stageText(staging, 'opt/berth/bin/berth-node', `#!/bin/sh\nexec /${NODE_DIR}/lib/ld-linux-x86-64.so.2 --library-path /${NODE_DIR}/lib /${NODE_DIR}/bin/node "$@"\n`, 0o755);
  // The published ports' native byte mover (the manager runs it here for the WSL side; the engine's forwarder runs it too).
  await stageFile(staging, RELAY_BINARY, 'opt/berth/bin/berth-relay', 0o755);
  await stageFile(staging, ENGINE_INIT_BINARY, 'opt/berth/bin/berth-engine-init', 0o755);
  await stageText(staging, 'opt/berth/bin/berth-agent', agentLauncher('/opt/berth/bin/berth-node', '/opt/berth/app/berth-agent.mjs'), 0o755);
  const flags = DAEMON_NODE_FLAGS.join(' ');
  // What user distros run from the shared area (/mnt/wsl/berth/tools is /opt/berth, the
  // version pack is published beside it): static busybox for mounts, and the docker CLI
  // through the version pack's own loader, so it runs over any distro's libc.
  await stageFile(staging, busybox, 'opt/berth/bin/busybox', 0o755);
  await stageText(
    staging,
    'opt/berth/bin/docker',
    // Paths from where this script really is: the shared area is /mnt/wsl, or /wsl with root=/.
    '#!/bin/sh\nself=$(readlink -f "$0")\nvp=${self%/tools/bin/*}/version-pack\nexec "$vp/lib64/ld-linux-x86-64.so.2" --library-path "$vp/lib/x86_64-linux-gnu" "$vp/usr/bin/docker" "$@"\n',
    0o755,
  );
  await stageText(
    staging,
    'opt/berth/bin/berth-proxy',
    `#!/bin/sh\n${daemonMallocExports()}self=$(readlink -f "$0")\nt=\${self%/bin/*}\nexec "$t/node/lib/ld-linux-x86-64.so.2" --library-path "$t/node/lib" "$t/node/bin/node" ${flags} "$t/app/berth-proxy.mjs" "$@"\n`,
    0o755,
  );
  // The docker CLI's credential helper in integrated distros (linked as /usr/local/bin/docker-credential-berth).
  await stageText(
    staging,
    'opt/berth/bin/docker-credential-berth',
    `#!/bin/sh\nself=$(readlink -f "$0")\nt=\${self%/bin/*}\nexec "$t/node/lib/ld-linux-x86-64.so.2" --library-path "$t/node/lib" "$t/node/bin/node" "$t/app/docker-credential-berth.mjs" "$@"\n`,
    0o755,
  );
}

async function stageBerthDistro(staging: string, sources: ImageSources, version: string, built: Partial<Record<ImageKind, BuiltImage>>, outDir: string): Promise<void> {
  await stageDirs(staging, [...BASE_DIRS, 'opt/berth/bin', 'opt/berth/app', DISTRO_IMAGES_DIR, 'var/cache/berth']);
  await stageBusybox(staging, await locate(sources.busybox));
  // Node runs through its own loader and libraries, so it works over any distro's libc.
  await stageBinaryWithLibs(staging, await locate(sources.node), `${NODE_DIR}/bin/node`, `${NODE_DIR}/lib`);
  await stageLaunchers(staging, await locate(sources.busybox));
  await cp(AGENT_BUNDLE_DIR, join(staging, 'opt/berth/app'), { recursive: true });
  for (const kind of ['system', 'version-pack'] as const) {
    const image = built[kind]!;
    await stageFile(staging, join(outDir, image.file), `${DISTRO_IMAGES_DIR}/${image.file}`, 0o644);
  }
  await stageText(staging, `${DISTRO_IMAGES_DIR}/manifest.json`, `${JSON.stringify({ system: built.system, versionPack: built['version-pack'] }, null, 2)}\n`);
  await stageText(staging, 'etc/wsl.conf', '[automount]\nenabled = true\nroot = /mnt/\n[user]\ndefault = root\n');
  await stageText(staging, 'etc/os-release', osRelease('Berth', version));
  await stageText(staging, DISTRO_MARKER, distroMarker('berth', version));
  await stageText(staging, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  await stageText(staging, 'etc/group', 'root:x:0:\ndocker:x:2375:\n');
}

function distroMarker(kind: DistroMarker['berthDistro'], version: string): string {
  return `${JSON.stringify({ berthDistro: kind, version } satisfies DistroMarker)}\n`;
}

/** berth-data as data-distro/layout.ts defines it, with busybox for the tools it runs (df, fstrim). */
async function stageDataDistro(staging: string, sources: ImageSources, version: string): Promise<void> {
  await stageDirs(staging, BASE_DIRS);
  for (const dir of STORE_DIRS) await stageDirs(staging, [dir.path], dir.mode);
  await stageBusybox(staging, await locate(sources.busybox));
  for (const [path, content] of Object.entries(DATA_DISTRO_FILES)) await stageText(staging, path, content);
  await stageText(staging, 'etc/os-release', osRelease('Berth data', version));
  await stageText(staging, DISTRO_MARKER, distroMarker('berth-data', version));
}
