import { WslError, type WslErrorKind } from './errors.js';

export interface ListedDistro {
  name: string;
  version: 1 | 2;
  isDefault: boolean;
}

/**
 * Parses `wsl -l -v`. The header and the STATE column are localised ("STATE", "ZUSTAND",
 * "Running", "Wird ausgeführt"…), so only the default marker, the first column (names have
 * no spaces) and the last (a version number) are read; running-ness comes from
 * `wsl -l --running -q` instead.
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
    distros.push({ name: tokens[0]!, version: last === '1' ? 1 : 2, isDefault });
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

/** "No distributions" (none installed, or none running for --running): an empty list, not a failure. */
export function saysNoDistributions(text: string): boolean {
  return NO_DISTROS.test(text) || /WSL_E_DEFAULT_DISTRO_NOT_FOUND/.test(text) || /There are no running distributions/i.test(text);
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
  const codeMatch = /Error code:\s*(\S+)/i.exec(text);
  const code = codeMatch?.[1];
  const detail = text.replace(/^.*Error code:.*$/gim, '').trim();
  const kind: WslErrorKind = (code ? KIND_BY_CODE.find(([re]) => re.test(code))?.[1] : undefined) ?? KIND_BY_TEXT.find(([re]) => re.test(text))?.[1] ?? 'failed';
  return new WslError(kind, detail || `wsl exited with ${exitCode ?? 'an error'}`, code, exitCode);
}
