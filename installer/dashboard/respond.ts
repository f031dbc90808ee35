import type { IncomingMessage, ServerResponse } from 'node:http';
import { SECURITY_HEADERS } from './guard.js';

/** Request bodies (forms, JSON) are small; anything bigger is refused. */
const MAX_BODY = 64 * 1024;

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        reject(new Error(`a request body must be under ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export const json = (res: ServerResponse, status: number, body: unknown): void => void res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json' }).end(JSON.stringify(body));
export const html = (res: ServerResponse, status: number, body: string): void => void res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' }).end(body);
export const back = (res: ServerResponse, to: string): void => void res.writeHead(303, { ...SECURITY_HEADERS, location: to }).end();
