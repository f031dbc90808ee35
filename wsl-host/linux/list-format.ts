import { messages } from '../messages.js';

export interface ListRow {
  name: string;
  state: string;
  version: number;
  isDefault: boolean;
}

/** The STATE column's width: wsl.exe's "%-16s" (WslClient.cpp; test/fixtures/wsl-strings.json). */
const STATE_WIDTH = 16;

/** `wsl -l -v`: a marker column for the default, then NAME (4 wider than the longest), STATE, VERSION, as wsl.exe pads them. */
export function formatVerbose(rows: ListRow[]): string {
  const nameWidth = Math.max(4, ...rows.map((r) => r.name.length)) + 4;
  const line = (mark: string, name: string, state: string, version: string) => `${mark} ${name.padEnd(nameWidth)}${state.padEnd(STATE_WIDTH)}${version}`;
  return [line(' ', 'NAME', 'STATE', 'VERSION'), ...rows.map((r) => line(r.isDefault ? '*' : ' ', r.name, r.state, String(r.version)))].join('\n').concat('\n');
}

/** `wsl -l`: a title, then one name a line, "(Default)" after the default. */
export function formatPlain(rows: ListRow[]): string {
  return [messages.listHeader, ...rows.map((r) => (r.isDefault ? `${r.name} (Default)` : r.name))].join('\n').concat('\n');
}

export function formatQuiet(rows: ListRow[]): string {
  return rows.map((r) => `${r.name}\n`).join('');
}
