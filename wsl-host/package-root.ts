import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The checkout a module was loaded from (from source under vitest, or from dist/). */
export function packageRoot(moduleDir: string): string {
  for (let dir = moduleDir; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error(`cannot find Berth's package root above ${moduleDir}`);
}
