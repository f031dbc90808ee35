import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../wsl-host/package-root.js';

/** Berth's checkout or installed package: its own module, so what needs only the path does not load the WSL driver. */
export const BERTH_REPO = packageRoot(dirname(fileURLToPath(import.meta.url)));
