import type { RunMode } from './session.js';

/** What a wsl.exe command line asks for. */
export type WslCommand =
  | { kind: 'import'; name: string; installDir: string; source: string; version: 1 | 2; vhd: boolean }
  | { kind: 'unregister'; name: string }
  | { kind: 'list'; verbose: boolean; quiet: boolean; running: boolean; all: boolean }
  | { kind: 'run'; distro?: string; user?: string; cwd?: string; mode: RunMode }
  | { kind: 'terminate'; name: string }
  | { kind: 'shutdown' }
  | { kind: 'set-default'; name: string }
  | { kind: 'import-in-place'; name: string; file: string }
  | { kind: 'manage'; name: string; change: DiskChange }
  | { kind: 'help' };

/** What `--manage NAME` changes of a disk-image distro. */
export type DiskChange = { kind: 'set-sparse'; sparse: boolean } | { kind: 'resize'; bytes: number };

/** WSL's size strings: a number with B, KB, MB, GB or TB (binary multiples, as in .wslconfig). */
export function parseSizeString(text: string): number | undefined {
  const m = /^([0-9]+)(B|KB|MB|GB|TB)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = { B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 }[(m[2] ?? 'B').toUpperCase() as 'B'];
  const bytes = Number(m[1]) * unit;
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

export class UsageError extends Error {
  constructor(readonly argument: string) {
    super(`Invalid command line argument: ${argument}`);
  }
}

/** Parses wsl.exe's command line: management verbs, or [-d NAME] [-u USER] [--cd DIR] then a command. */
export function parseWslArgs(args: string[]): WslCommand {
  const first = args[0];
  const need = (i: number, what: string): string => {
    const v = args[i];
    if (v === undefined) throw new UsageError(what);
    return v;
  };
  switch (first) {
    case '--help':
    case '-h':
      return { kind: 'help' };
    case '--import': {
      const name = need(1, `${first} (missing NAME)`);
      const installDir = need(2, `${first} (missing install location)`);
      const source = need(3, `${first} (missing file)`);
      let version: 1 | 2 = 2;
      let vhd = false;
      for (let i = 4; i < args.length; i++) {
        if (args[i] === '--version') {
          const v = need(++i, '--version');
          if (v !== '1' && v !== '2') throw new UsageError(v);
          version = v === '1' ? 1 : 2;
        } else if (args[i] === '--vhd') vhd = true;
        else throw new UsageError(args[i]!);
      }
      return { kind: 'import', name, installDir, source, version, vhd };
    }
    case '--unregister':
      return { kind: 'unregister', name: need(1, first) };
    case '--import-in-place': {
      const cmd = { kind: 'import-in-place' as const, name: need(1, `${first} (missing NAME)`), file: need(2, `${first} (missing file)`) };
      if (args.length > 3) throw new UsageError(args[3]!);
      return cmd;
    }
    case '--manage':
      return parseManage(need(1, `${first} (missing NAME)`), args.slice(2));
    case '--terminate':
    case '-t':
      return { kind: 'terminate', name: need(1, first) };
    case '--shutdown':
      return { kind: 'shutdown' };
    case '--set-default':
    case '-s':
      return { kind: 'set-default', name: need(1, first) };
    case '--list':
    case '-l': {
      const cmd = { kind: 'list' as const, verbose: false, quiet: false, running: false, all: false };
      for (const a of args.slice(1)) {
        if (a === '--verbose' || a === '-v') cmd.verbose = true;
        else if (a === '--quiet' || a === '-q') cmd.quiet = true;
        else if (a === '--running') cmd.running = true;
        else if (a === '--all') cmd.all = true;
        else throw new UsageError(a);
      }
      return cmd;
    }
    default:
      return parseRun(args);
  }
}

function parseManage(name: string, rest: string[]): WslCommand {
  const [option, value, ...extra] = rest;
  if (extra.length > 0) throw new UsageError(extra[0]!);
  if (option === '--set-sparse' || option === '-s') {
    if (value !== 'true' && value !== 'false') throw new UsageError(`${option} ${value ?? '(missing true|false)'}`);
    return { kind: 'manage', name, change: { kind: 'set-sparse', sparse: value === 'true' } };
  }
  if (option === '--resize') {
    const bytes = value === undefined ? undefined : parseSizeString(value);
    if (bytes === undefined) throw new UsageError(`${option} ${value ?? '(missing size, e.g. 64GB)'}`);
    return { kind: 'manage', name, change: { kind: 'resize', bytes } };
  }
  throw new UsageError(option ?? '--manage (missing option)');
}

function parseRun(args: string[]): WslCommand {
  const cmd: { kind: 'run'; distro?: string; user?: string; cwd?: string; mode: RunMode } = {
    kind: 'run',
    mode: { kind: 'login' },
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(a);
      return v;
    };
    if (a === '-d' || a === '--distribution') cmd.distro = value();
    else if (a === '-u' || a === '--user') cmd.user = value();
    else if (a === '--cd') cmd.cwd = value();
    else if (a === '-e' || a === '--exec') {
      const argv = args.slice(i + 1);
      if (argv.length === 0) throw new UsageError(a);
      cmd.mode = { kind: 'exec', argv };
      return cmd;
    } else if (a === '--') {
      const rest = args.slice(i + 1);
      if (rest.length > 0) cmd.mode = { kind: 'shell', command: rest.join(' ') };
      return cmd;
    } else if (a.startsWith('-')) throw new UsageError(a);
    else {
      cmd.mode = { kind: 'shell', command: args.slice(i).join(' ') };
      return cmd;
    }
  }
  return cmd;
}
