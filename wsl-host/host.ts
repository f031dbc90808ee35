import type { Duplex, Readable, Writable } from 'node:stream';

/**
 * The STATE words of `wsl -l -v` that mean "not usable now". wsl.exe prints them in English
 * whatever the locale (WslClient.cpp's ListDistributionsHelper; test/fixtures/wsl-strings.json).
 */
export const BUSY_STATES = ['Installing', 'Uninstalling', 'Converting', 'Exporting'] as const;
export type BusyState = (typeof BUSY_STATES)[number];

/** Running or Stopped; or busy, as wsl.exe lists a distro mid-import, -conversion or -export (or left so by a crash). */
export type DistroState = 'Running' | 'Stopped' | BusyState;

export interface DistroInfo {
  name: string;
  state: DistroState;
  version: 1 | 2;
  isDefault: boolean;
}

export interface ImportOptions {
  /** WSL version to register; Berth always asks for 2. */
  version?: 1 | 2;
  /** The source is an ext4 disk image rather than a tarball. */
  vhd?: boolean;
  /** Called as the source is read: bytes sent so far and the total, when known. */
  onProgress?: (done: number, total: number | undefined) => void;
}

export type StdioOption = 'pipe' | 'inherit' | 'ignore';

export interface ExecOptions {
  user?: string;
  /** A directory in the distro (`~` for the user's home). */
  cwd?: string;
  /** Extra environment for the command, passed the way WSL passes it (WSLENV). */
  env?: Record<string, string>;
  stdin?: StdioOption;
  /** Bytes (or a stream) fed to the command's stdin, which then ends; instead of `stdin`. */
  input?: Readable | string | Uint8Array;
  stdout?: StdioOption | Writable;
  stderr?: StdioOption | Writable;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  /** Set when the command (or the wsl process carrying it) was killed by a signal. */
  signal?: string;
  stdout: string;
  stderr: string;
}

/** A command running in a distro: its streams while it runs, its result when it ends. */
export interface WslProcess {
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
  readonly done: Promise<ExecResult>;
}

/**
 * Everything Berth asks of WSL. One driver implements it over any program with
 * wsl.exe's command line: wsl.exe itself on Windows, bin/berth-wsl on Linux.
 */
export interface WslHost {
  list(): Promise<DistroInfo[]>;
  import(name: string, installDir: string, source: string | Readable, options?: ImportOptions): Promise<void>;
  unregister(name: string): Promise<void>;
  /** Registers an ext4 disk image where it lies (`wsl --import-in-place`); unregister deletes it. */
  importInPlace(name: string, file: string): Promise<void>;
  /** `wsl --manage NAME --resize SIZE`: a disk-image distro's size limit (a multiple of 1 MiB). */
  resizeDisk(name: string, bytes: number): Promise<void>;
  /** `wsl --manage NAME --set-sparse true|false`: whether the space the distro frees goes back to the host. */
  setSparse(name: string, sparse: boolean): Promise<void>;
  exec(name: string, argv: string[], options?: ExecOptions): WslProcess;
  /** exec, collecting output; rejects only when wsl itself fails, not when the command exits non-zero. */
  run(name: string, argv: string[], options?: ExecOptions): Promise<ExecResult>;
  terminate(name: string): Promise<void>;
  shutdown(): Promise<void>;
  setDefault(name: string): Promise<void>;
  /** A byte stream to a Unix socket under /mnt/wsl, as seen from inside the distro. */
  connect(name: string, socketPath: string): Promise<Duplex>;
  /**
   * The host's own path of a Unix socket under /mnt/wsl, where the host sees the shared area
   * (the Linux WSL host), so a native program can open it; undefined where only `connect`
   * reaches it (wsl.exe on Windows).
   */
  socketHostPath(socketPath: string): string | undefined;
}
