import { WslError, type WslErrorKind } from './errors.js';
import { BUSY_STATES, type BusyState } from './host.js';

export interface ListedDistro {
  name: string;
  version: 1 | 2;
  isDefault: boolean;
  /** A state that means the distro cannot be used now (an import or a conversion under way, or cut short). */
  busy?: BusyState;
}

/**
 * Parses `wsl -l -v`: the default marker, the first column (names have no spaces), the last
 * (a version number) and, between them, a busy state word. Older builds localised the
 * header and the states ("ZUSTAND", "Wird ausgeführt"), so nothing else is relied on;
 * running-ness comes from `wsl -l --running -q`.
 */
export function parseListVerbose(text: string): ListedDistro[] {
  const distros: ListedDistro[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    const isDefault = line.trimStart().startsWith('*');
    const tokens = line
      .replace(/^\s*\*?/, '')
      .trim()
      .split(/\s+/);
    const last = tokens[tokens.length - 1];
    if (tokens.length < 3 || (last !== '1' && last !== '2')) continue; // header or noise
    const state = tokens.slice(1, -1).join(' ');
    const busy = BUSY_STATES.find((b) => b === state);
    distros.push({ name: tokens[0]!, version: last === '1' ? 1 : 2, isDefault, ...(busy ? { busy } : {}) });
  }
  return distros;
}

/** Parses `wsl -l -q` / `wsl -l --running -q`: one name a line. */
export function parseNames(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

const NO_DISTROS = /has no installed distributions/i;

/**
 * "No distributions" (none installed, or none running for --running) in English: an empty
 * list, not a failure. wsl.exe prints no error code for it, so in another language the
 * caller asks `wsl -l -q`, which is silent then (CommandWslHost.call).
 */
export function saysNoDistributions(text: string): boolean {
  return NO_DISTROS.test(text) || /WSL_E_DEFAULT_DISTRO_NOT_FOUND/.test(text) || /There are no running distributions/i.test(text);
}

/**
 * The error code wsl.exe puts on the last line ("Error code: Wsl/…", "Fehlercode: Wsl/…",
 * "エラー コード: Wsl/…"): the label is in the user's language, the code never is.
 */
const CODE_LINE = /^.*?[:：]\s*(Wsl\/[\w/.-]+)\s*$/m;

export function errorCodeOf(text: string): string | undefined {
  return CODE_LINE.exec(text)?.[1];
}

const KIND_BY_CODE: Array<[RegExp, WslErrorKind]> = [
  [/WSL_E_DISTRO_NOT_FOUND|WSL_E_DEFAULT_DISTRO_NOT_FOUND/, 'not-found'],
  [/ERROR_ALREADY_EXISTS/, 'exists'],
  [/HCS_E_HYPERV_NOT_INSTALLED|WSL_E_VIRTUALIZATION|VIRTUAL_MACHINE_PLATFORM|HV_E/i, 'virtualization-disabled'],
  [/WSL_E_WSL2_NEEDS_KERNEL_UPDATE|WSL_E_VM_MODE|WSL_E_WSL1_NOT_SUPPORTED|WSL_E_WSL2/, 'not-wsl2'],
  [/E_INVALIDARG/, 'invalid-argument'],
];

// Builds older than the `Error code:` line say only the sentence.
const KIND_BY_TEXT: Array<[RegExp, WslErrorKind]> = [
  [/no distribution with the supplied name/i, 'not-found'],
  [/already exists/i, 'exists'],
  [/enable the Virtual Machine Platform|virtualization is enabled in the BIOS/i, 'virtualization-disabled'],
  [/requires an update to its kernel component|WSL 2 is not supported/i, 'not-wsl2'],
  [/Invalid command line (argument|option)/i, 'invalid-argument'],
];

/** Turns the text and exit code of a failed wsl call into a typed error. */
export function errorFromOutput(text: string, exitCode?: number): WslError {
  const code = errorCodeOf(text) ?? /Error code:\s*(\S+)/i.exec(text)?.[1];
  const detail = text
    .split('\n')
    .filter((line) => !(code && line.trimEnd().endsWith(code)))
    .join('\n')
    .trim();
  const kind: WslErrorKind = (code ? KIND_BY_CODE.find(([re]) => re.test(code))?.[1] : undefined) ?? KIND_BY_TEXT.find(([re]) => re.test(text))?.[1] ?? 'failed';
  return new WslError(kind, detail || `wsl exited with ${exitCode ?? 'an error'}`, code, exitCode);
}
