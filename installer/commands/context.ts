import type { WslHost } from '../../wsl-host/host.js';
import type { HomeLayout } from '../home.js';

/** Exit codes, as README documents them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3, refused: 4 } as const;

/** A request the user must change (not a failure to retry): exit code `refused`. */
export class Refused extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Refused';
  }
}

/**
 * What every command runs against, given to the program rather than built at import time
 * (devcontainers' CLIHost does the same): tests and the dashboard can hand in their own.
 */
export interface CliContext {
  home: HomeLayout;
  /** The WSL to drive, made on first use. */
  wsl: () => Promise<WslHost>;
  /** One line to stdout. */
  say: (line: string) => void;
  /** Text to stderr, as it is. */
  warn: (text: string) => void;
  /** A yes/no question on a terminal; false when there is none. */
  confirm: (question: string) => Promise<boolean>;
}
