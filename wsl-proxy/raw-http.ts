import type { Duplex } from 'node:stream';

/**
 * One HTTP/1.0 request over a stream from WslHost.connect (a socket, or a relay through
 * wsl.exe, which node:http cannot drive). Returns status and body.
 */
export function rawHttp(stream: Duplex, method: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    stream.on('end', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, body: text.slice(head.length + 4) });
      stream.destroy();
    });
    stream.write(`${method} ${path} HTTP/1.0\r\nHost: berth\r\nContent-Length: 0\r\n\r\n`);
  });
}
