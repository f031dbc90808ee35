/**
 * The one client the port benchmark runs on each side (host, WSL network namespace, engine
 * namespace via nsenter), so only the path differs. Prints one JSON line.
 *   latency HOST PORT N   median ms of N × (connect, GET /small over HTTP/1.0, read to close)
 *   download HOST PORT PATH  ms and bytes of one GET of PATH
 *   upload HOST PORT BYTES   ms of sending "UPLOAD\n" and BYTES bytes, until the server closes
 */
import { connect } from 'node:net';

function get(host: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const socket = connect({ host, port }, () => socket.write(`GET ${path} HTTP/1.0\r\nHost: bench\r\n\r\n`));
    socket.on('data', (d: Buffer) => (bytes += d.length));
    socket.on('end', () => resolve(bytes));
    socket.on('error', reject);
  });
}

const [mode, host, portText, arg] = process.argv.slice(2);
const port = Number(portText);
if (mode === 'latency') {
  const times: number[] = [];
  for (let i = 0; i < Number(arg); i++) {
    const t0 = process.hrtime.bigint();
    await get(host!, port, '/small');
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ ms: times[Math.floor(times.length / 2)] }));
} else if (mode === 'download') {
  const t0 = process.hrtime.bigint();
  const bytes = await get(host!, port, arg!);
  console.log(JSON.stringify({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes }));
} else if (mode === 'upload') {
  const total = Number(arg);
  const chunk = Buffer.alloc(1 << 20);
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: host!, port }, () => {
      socket.write('UPLOAD\n');
      let left = total;
      const pump = () => {
        while (left > 0) {
          left -= chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    socket.on('data', () => {});
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  console.log(JSON.stringify({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: total }));
} else {
  console.error('usage: tcp-client latency HOST PORT N | download HOST PORT PATH | upload HOST PORT BYTES');
  process.exit(2);
}
