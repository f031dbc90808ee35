/** One `-v` entry, split into the host side and the rest (`/dst[:opts]`). */
export interface BindSpec {
  source: string;
  rest: string;
}

/** A Windows drive path at the start: `C:\…`, `C:/…`, `\\?\C:\…`. */
const WINDOWS_SOURCE = /^(?:\\\\\?\\)?[A-Za-z]:[\\/]/;

/**
 * Splits `src:dst[:opts]` where src may itself hold a colon (a Windows drive letter).
 * The container side may also hold colons (`/a:b` is not legal there, but `dst:ro,z` is).
 */
export function splitBind(bind: string): BindSpec {
  const driveMatch = WINDOWS_SOURCE.exec(bind);
  const from = driveMatch ? driveMatch[0].length : 0;
  const colon = bind.indexOf(':', from);
  if (colon < 0) return { source: bind, rest: '' };
  return { source: bind.slice(0, colon), rest: bind.slice(colon) };
}

/** A named volume (`data:/x`), not a path: Docker leaves those alone, and so does Berth. */
export function isNamedVolume(source: string): boolean {
  return !source.startsWith('/') && !source.startsWith('\\') && !source.startsWith('~') && !source.startsWith('.') && !WINDOWS_SOURCE.test(source);
}
