// Bundles each process's entry point with esbuild: what runs inside the distros (the agent
// in `berth`, the proxy in user distros) for the berth distro's own Node, with no
// node_modules there; and the host's commands (berth, berth-wsl, and berth-build-images,
// which the backend runs to build the images in a process of its own), which start many times
// (the manager runs berth-wsl as it would run wsl.exe): one minified file and a few lazily
// loaded chunks start in about half the time of tsc's module tree.
import { build } from 'esbuild';
import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(repo, 'dist/agent'), { recursive: true, force: true });
rmSync(join(repo, 'dist/host'), { recursive: true, force: true });
const common = {
  outExtension: { '.js': '.mjs' },
  // Commands load what they use (the supervisor: YAML and schemas; start: tar): a quick
  // `status` or `stop` does not parse the rest.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  minify: true,
  // CommonJS dependencies inside an ESM bundle still call require().
  banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
  logLevel: 'warning',
};
await build({
  ...common,
  entryPoints: { 'berth-agent': join(repo, 'bootstrap-distro/agent/main.ts'), 'berth-proxy': join(repo, 'wsl-proxy/main.ts'), 'docker-credential-berth': join(repo, 'wsl-proxy/credential-helper.ts') },
  outdir: join(repo, 'dist/agent'),
});
await build({
  ...common,
  entryPoints: { berth: join(repo, 'installer/cli.ts'), 'berth-wsl': join(repo, 'wsl-host/linux/cli.ts'), 'berth-build-images': join(repo, 'installer/images/build-main.ts') },
  outdir: join(repo, 'dist/host'),
});
// The dashboard's one script, for the browser, and what it loads when asked (the terminal:
// xterm.js, its chunk, and its stylesheet).
rmSync(join(repo, 'dist/dashboard'), { recursive: true, force: true });
await build({
  entryPoints: { live: join(repo, 'installer/dashboard/live.ts') },
  outdir: join(repo, 'dist/dashboard'),
  splitting: true,
  chunkNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  logLevel: 'warning',
});
copyFileSync(join(repo, 'node_modules/@xterm/xterm/css/xterm.css'), join(repo, 'dist/dashboard/xterm.css'));
