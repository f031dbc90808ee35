// Bundles what runs inside the distros — the agent in `berth`, the proxy in user distros —
// into ESM files for the berth distro's own Node, with no node_modules there.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(repo, 'dist/agent'), { recursive: true, force: true });
await build({
  entryPoints: {
    'berth-agent': join(repo, 'bootstrap-distro/agent/main.ts'),
    'berth-proxy': join(repo, 'wsl-proxy/main.ts'),
  },
  outdir: join(repo, 'dist/agent'),
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
});
