import { arch, cpus, totalmem } from 'node:os';
import { formatTable } from './measure.js';
import { benchBootstrap } from './bootstrap.js';
import { benchDataDisk } from './data-disk.js';
import { benchLogs } from './logs.js';
import { benchManager } from './manager.js';
import { benchNetwork } from './network.js';
import { benchPorts } from './ports.js';
import { benchProxy } from './proxy.js';
import { benchWslHost } from './wsl-host.js';

if (process.getuid?.() !== 0 && process.argv[2] !== 'logs') {
  console.error('bench: needs root (the Linux WSL host uses namespaces and mounts)');
  process.exit(1);
}
const only = process.argv[2];
const rows = only && only !== 'wsl-host' ? [] : [...(await benchWslHost())];
const notes: string[] = [];
for (const [name, bench] of [
  ['logs', benchLogs],
  ['bootstrap', benchBootstrap],
  ['manager', benchManager],
  ['proxy', benchProxy],
  ['ports', benchPorts],
  ['network', benchNetwork],
  ['data-disk', benchDataDisk],
] as const) {
  if (only && only !== name) continue;
  const result = await bench();
  rows.push(...result.rows);
  notes.push(...result.notes);
}
console.log(`Berth benchmarks, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model ?? arch()}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
console.log(formatTable(rows));
for (const note of notes) console.log(note);
