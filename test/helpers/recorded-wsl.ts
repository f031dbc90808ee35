import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asWindowsBytes } from '../fixtures/wsl-outputs.js';

export type WindowsTextStyle = Parameters<typeof asWindowsBytes>[1];

/**
 * A recorded wsl.exe, as a script in `dir`: answers each command line with its canned text
 * (written as `style` says a build of wsl.exe writes it) and exit code; anything else is
 * "unexpected" with exit 99.
 */
export function recordedWsl(dir: string, answers: Record<string, { text: string; code: number }>, style: WindowsTextStyle): string {
  const script = join(dir, `wsl-${Math.random().toString(36).slice(2)}`);
  let body = '#!/bin/sh\ncase "$*" in\n';
  for (const [args, { text, code }] of Object.entries(answers)) {
    const file = `${script}-${Buffer.from(args).toString('hex')}`;
    writeFileSync(file, asWindowsBytes(text, style));
    body += `  "${args}") cat '${file}'; exit ${code};;\n`;
  }
  body += '  *) echo "unexpected: $*" >&2; exit 99;;\nesac\n';
  writeFileSync(script, body, { mode: 0o755 });
  chmodSync(script, 0o755); // whatever the umask
  return script;
}
