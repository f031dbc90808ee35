import { DATA_DISTRO } from '../data-distro/layout.js';

/**
 * The names of Berth's own two distros, in a module of their own: the backend names them to
 * boot them before it loads the installer (backend/boot-distros.ts).
 */
export const BERTH_DISTRO = 'berth';
export { DATA_DISTRO };
