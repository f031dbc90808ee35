import { arch, cpus, totalmem } from 'node:os';
import { formatTable } from './measure.js';
import { benchWslHost } from './wsl-host.js';

if (process.getuid?.() !== 0) {
  console.error('bench: needs root (the Linux WSL host uses namespaces and mounts)');
  process.exit(1);
}
const rows = [...(await benchWslHost())];
console.log(`Berth benchmarks, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model ?? arch()}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
console.log(formatTable(rows));
