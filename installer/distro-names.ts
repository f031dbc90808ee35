import { DATA_DISTRO } from '../data-distro/layout.js';

/**
 * The names of Berth's own two distros, in a module of their own: the CLI names them to boot
 * them while the backend loads (backend/boot-distros.ts), without loading distros.ts.
 */
export const BERTH_DISTRO = 'berth';
export { DATA_DISTRO };
