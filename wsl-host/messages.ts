/**
 * The texts wsl.exe prints, with the error codes it appends. The Linux WSL host prints
 * them and the driver recognises them, so both sides share one list.
 */
export const WSL_ERROR_EXIT = 255; // wsl.exe exits with -1; a Linux exit status keeps its low byte

export const messages = {
  ok: 'The operation completed successfully.',
  importInProgress: 'Import in progress, this may take a few minutes.',
  unregistering: 'Unregistering.',
  noRunning: 'There are no running distributions.',
  listHeader: 'Windows Subsystem for Linux Distributions:',
  noDistros: [
    'Windows Subsystem for Linux has no installed distributions.',
    'You can resolve this by installing a distribution with the instructions below:',
    '',
    "Use 'wsl.exe --list --online' to list available distributions",
    "and 'wsl.exe --install <Distro>' to install.",
  ].join('\n'),
} as const;

export interface WslErrorText {
  text: string;
  /** Printed as "Error code: CODE"; wsl.exe prints none for WSL_E_DEFAULT_DISTRO_NOT_FOUND and WSL_E_INVALID_USAGE. */
  code?: string;
}

export const errors = {
  notFound: (): WslErrorText => ({
    text: 'There is no distribution with the supplied name.',
    code: 'Wsl/Service/WSL_E_DISTRO_NOT_FOUND',
  }),
  noDefault: (): WslErrorText => ({ text: messages.noDistros }),
  exists: (): WslErrorText => ({
    text: 'A distribution with the supplied name already exists. Use --name to choose a different name.',
    code: 'Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS',
  }),
  fileNotFound: (): WslErrorText => ({
    text: 'The system cannot find the file specified.',
    code: 'Wsl/Service/RegisterDistro/ERROR_FILE_NOT_FOUND',
  }),
  importFailed: (why: string): WslErrorText => ({
    text: `The imported file is not a valid distribution: ${why}`,
    code: 'Wsl/Service/RegisterDistro/WSL_E_IMPORT_FAILED',
  }),
  invalidArgument: (arg: string): WslErrorText => ({
    text: `Invalid command line argument: ${arg}\nPlease use 'wsl.exe --help' to get a list of supported arguments.`,
    code: 'Wsl/E_INVALIDARG',
  }),
  version1: (): WslErrorText => ({
    text: 'WSL 1 is not supported by this WSL host; import with --version 2.',
    code: 'Wsl/Service/RegisterDistro/WSL_E_WSL1_NOT_SUPPORTED',
  }),
  startFailed: (why: string): WslErrorText => ({
    text: `The distribution failed to start: ${why}`,
    code: 'Wsl/Service/CreateInstance/E_FAIL',
  }),
  busy: (what: string): WslErrorText => ({
    text: `The distribution is busy: ${what}`,
    code: 'Wsl/Service/WSL_E_DISTRO_BUSY',
  }),
};

export function formatError(e: WslErrorText): string {
  return e.code ? `${e.text}\nError code: ${e.code}\n` : `${e.text}\n`;
}
