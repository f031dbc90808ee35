import { join } from 'node:path';
import { execa } from 'execa';
import { REPO } from './wsl-root.js';

/**
 * A native program twice: the static build the product ships, and the ASan/UBSan build the
 * tests also run (a sanitizer report ends it with a failure), for `describe.each`.
 */
export function nativeBuilds(program: string): Array<{ name: string; binary: string }> {
  return [
    { name: 'static build', binary: join(REPO, 'dist/native', program) },
    { name: 'ASan/UBSan build', binary: join(REPO, 'dist/native-sanitized', program) },
  ];
}

/** Both builds of the native programs, from the current sources (for a beforeAll, with BUILD_BOTH_TIMEOUT_MS). */
export async function buildBoth(): Promise<void> {
  await execa('node', [join(REPO, 'scripts/build-native.mjs')]);
  await execa('node', [join(REPO, 'scripts/build-native.mjs')], { env: { BERTH_NATIVE_SANITIZE: '1' } });
}

export const BUILD_BOTH_TIMEOUT_MS = 120_000;
