import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildImages } from '../../installer/images/build.js';
import type { ImageManifest } from '../../installer/images/inputs.js';
import type { TestWslRoot } from './wsl-root.js';
import { AGENT_COMMAND } from '../../common/shared-area.js';

export const AGENT = AGENT_COMMAND;

/** Builds the images into the test root (once per root) and returns their manifest. */
export async function imagesFor(t: TestWslRoot): Promise<{ dir: string; manifest: ImageManifest }> {
  const dir = join(t.root, 'images');
  try {
    return { dir, manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ImageManifest };
  } catch {
    return { dir, manifest: await buildImages(dir) };
  }
}

/**
 * Imports `berth` and `berth-data` and makes the cross-distro mount of the data store
 * that the manager makes at start: berth-data bind-mounts its store under /mnt/wsl/berth.
 */
export async function installBerthDistros(t: TestWslRoot): Promise<void> {
  const { dir, manifest } = await imagesFor(t);
  for (const [name, kind] of [
    ['berth', 'berth'],
    ['berth-data', 'berth-data'],
  ] as const) {
    const r = await t.wsl(['--import', name, join(t.root, 'distros', name), join(dir, manifest.images[kind].file)]);
    if (r.exitCode !== 0) throw new Error(`import ${name}: ${r.stdout}`);
  }
  await mountDataStore(t);
}

export async function mountDataStore(t: TestWslRoot): Promise<void> {
  const r = await t.wsl(['-d', 'berth-data', '-u', 'root', '--exec', 'sh', '-c', 'mkdir -p /mnt/wsl/berth/data && (grep -q " /mnt/wsl/berth/data " /proc/mounts || mount --bind /srv/berth-data /mnt/wsl/berth/data)']);
  if (r.exitCode !== 0) throw new Error(`mounting the data store: ${r.stderr}`);
}

export function agent(t: TestWslRoot, args: string[], input?: string) {
  return t.wsl(['-d', 'berth', '-u', 'root', '--exec', AGENT, ...args], input === undefined ? {} : { input });
}

/** The docker CLI against the published daemon socket, as seen from the host. */
export function docker(t: TestWslRoot, args: string[], input?: string) {
  const socket = join(t.root, 'run/wsl/berth/docker.sock');
  return execa('docker', ['-H', `unix://${socket}`, ...args], { reject: false, ...(input ? { input } : {}) });
}

/** A busybox image for the engine, made locally (no registry is reachable). */
export async function loadBusyboxImage(t: TestWslRoot): Promise<void> {
  const dir = join(t.root, 'busybox-image');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  await execa('cp', ['/bin/busybox', join(dir, 'bin/busybox')]);
  const applets = (await execa('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) await execa('ln', ['-sf', 'busybox', join(dir, 'bin', a)]);
  await execa('tar', ['-C', dir, '-cf', `${dir}.tar`, '.']);
  const r = await docker(t, ['import', `${dir}.tar`, 'busybox:latest']);
  if (r.exitCode !== 0) throw new Error(`docker import: ${r.stderr}`);
}
