/** What went wrong when talking to WSL, in terms a caller can act on. */
export type WslErrorKind =
  | 'not-found' // no distro by that name
  | 'exists' // a distro by that name is already registered
  | 'not-wsl2' // the distro or the machine cannot run WSL 2
  | 'virtualization-disabled' // the VM platform is off in Windows or the firmware
  | 'wsl-missing' // the wsl command itself is not there
  | 'invalid-argument' // wsl refused the command line
  | 'failed'; // anything else: the message carries wsl's own text

const ADVICE: Record<WslErrorKind, string> = {
  'not-found': 'check the name with `wsl -l -v`',
  exists: 'choose another name or unregister the existing distro first',
  'not-wsl2': 'convert it with `wsl --set-version NAME 2` or update WSL with `wsl --update`',
  'virtualization-disabled': 'enable "Virtual Machine Platform" in Windows features and virtualization in the firmware, then reboot',
  'wsl-missing': 'install WSL (`wsl --install`) or, on Linux, point BERTH_WSL at bin/berth-wsl',
  'invalid-argument': 'see `wsl --help` for the supported arguments',
  failed: 'see the message above; `wsl --shutdown` and a retry often help',
};

export class WslError extends Error {
  override readonly name = 'WslError';
  constructor(
    readonly kind: WslErrorKind,
    /** wsl's own text, without the `Error code:` line. */
    readonly detail: string,
    /** The `Error code: Wsl/...` value, when wsl printed one. */
    readonly code?: string,
    readonly exitCode?: number,
    options?: { cause?: unknown },
  ) {
    super(`${detail.trim() || kind}${detail.trim().endsWith('.') ? '' : '.'} What to do: ${ADVICE[kind]}.`, options);
  }
}
