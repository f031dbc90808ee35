// Builds Berth's static native helpers unless they are up to date: berth-init (the Linux
// WSL host's /init, and berth-wsl's native entry), berth-relay (the published ports'
// byte mover), berth-runc (the engine's runc: the host's CAs into each container) and
// berth-engine-init (the engine namespaces' pid 1, which starts the engine from the boot plan). Warnings are errors. BERTH_NATIVE_SANITIZE=1 builds them with ASan/UBSan
// instead (dynamic: the sanitizers' runtimes are not static), for the tests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const sanitize = process.env.BERTH_NATIVE_SANITIZE === '1';
const outDir = join(repo, sanitize ? 'dist/native-sanitized' : 'dist/native');
const programs = [
  { name: 'berth-init', dir: 'wsl-host/native', sources: ['main.c', 'berth-init.c', 'wsl-entry.c'], headers: ['berth-init.h'] },
  {
    name: 'berth-relay',
    dir: 'common/port-forward',
    // The API front (a distro proxy's native half) lives beside the proxy it fronts.
    sources: ['berth-relay.c', 'relay-proto.c', '../../wsl-proxy/native/api-front.c', '../../wsl-proxy/native/http-frame.c'],
    headers: ['relay-proto.h', '../../wsl-proxy/native/api-front.h', '../../wsl-proxy/native/http-frame.h'],
  },
  { name: 'berth-runc', dir: 'bootstrap-distro/runtime', sources: ['berth-runc.c', 'spec-edit.c'], headers: ['spec-edit.h'] },
  { name: 'berth-engine-init', dir: 'bootstrap-distro/engine-init', sources: ['berth-engine-init.c', 'boot-plan.c'], headers: ['boot-plan.h'] },
];
const flags = ['-O2', '-Wall', '-Wextra', '-Werror', '-pthread', ...(sanitize ? ['-g', '-fsanitize=address,undefined', '-fno-omit-frame-pointer', '-fno-sanitize-recover=all'] : ['-static'])];

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

for (const p of programs) {
  const inputs = [...p.sources, ...p.headers].map((f) => join(repo, p.dir, f));
  const output = join(outDir, p.name);
  if (mtime(output) >= Math.max(...inputs.map(mtime), mtime(fileURLToPath(import.meta.url)))) continue;
  mkdirSync(outDir, { recursive: true });
  try {
    execFileSync('gcc', [...flags, '-o', output, ...p.sources.map((f) => join(repo, p.dir, f))], { stdio: 'inherit' });
  } catch {
    console.error(`berth: building ${output} failed; install gcc and libc6-dev (apt-get install gcc libc6-dev) and run npm run build again.`);
    process.exit(1);
  }
}
