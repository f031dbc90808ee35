// Builds the static berth-init helper (the Linux WSL host's /init, and berth-wsl's native
// entry) unless it is up to date.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['berth-init.c', 'wsl-entry.c'].map((f) => join(repo, 'wsl-host/native', f));
const header = join(repo, 'wsl-host/native/berth-init.h');
const output = join(repo, 'dist/native/berth-init');

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

if (mtime(output) < Math.max(...[...sources, header].map(mtime))) {
  mkdirSync(dirname(output), { recursive: true });
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-static', '-o', output, ...sources], { stdio: 'inherit' });
  } catch (error) {
    console.error(`berth: building ${output} failed; install gcc and libc6-dev (apt-get install gcc libc6-dev) and run npm run build again.`);
    process.exit(1);
  }
}
