// Bundles the agent that runs inside the `berth` distro into one ESM file (it runs on the
// distro's own Node, with no node_modules there).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(repo, 'bootstrap-distro/agent/main.ts')],
  outfile: join(repo, 'dist/agent/berth-agent.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  // CommonJS dependencies inside an ESM bundle still call require().
  banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
  logLevel: 'warning',
});
