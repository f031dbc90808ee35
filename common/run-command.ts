import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a system tool (mount, tar, losetup…) and collects its output. The processes that use
 * it start often or stay resident (bin/berth-wsl on every `--exec`, the agent in the berth
 * distro), so it is node:child_process here rather than execa, which the manager uses.
 */
export function runCommand(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: Readable } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? process.env, stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (options.input && child.stdin) {
      child.stdin.on('error', () => {}); // the tool may exit before reading everything (corrupt input)
      options.input.on('error', (e) => child.stdin?.destroy(e));
      options.input.pipe(child.stdin);
    }
    child.on('error', (e) => reject(new Error(`cannot run ${file}: ${e.message}`)));
    child.on('close', (code, signal) => resolve({ exitCode: code ?? 128, stdout: stdout.trimEnd(), stderr: stderr.trimEnd() + (signal ? ` (killed by ${signal})` : '') }));
  });
}

/** runCommand that throws, with the tool's own error text, when it fails. */
export async function mustRun(file: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await runCommand(file, args, options);
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr || r.stdout || `exit ${r.exitCode}`}`);
  return r.stdout;
}
