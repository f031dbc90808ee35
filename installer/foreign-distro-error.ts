/** Refused: a distro with Berth's name that Berth did not make. Its own module: the CLI checks for it on every run. */
export class ForeignDistroError extends Error {}
