import { spawn } from 'node:child_process';
import { currentStatus } from '../control-client.js';

export async function run(args: string[]): Promise<number> {
  const s = await currentStatus();
  if (!s) {
    process.stderr.write('berth-agent: the engine is not running; start it first.\n');
    return 3;
  }
  const command = args.length > 0 ? args : ['/bin/sh'];
  // Entering the supervisor's mount namespace lands on the LinuxKit root (stacked over its "/").
  const child = spawn('nsenter', ['-t', String(s.pid), '-m', '-u', '-i', '-n', '-p', '--', ...command], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}
