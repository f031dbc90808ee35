import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiDeps } from './api.js';
import { SECURITY_HEADERS } from './guard.js';

/** The last lines a log view starts with. */
const LOG_TAIL = 500;

/** GET /api/v1/logs?source=…: Berth's logs (the last lines, then new ones) as Server-Sent Events. */
export async function streamBerthLogs(deps: ApiDeps, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const logs = deps.openLogs(url.searchParams.getAll('source').filter(Boolean));
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream' });
  const first: string[] = [];
  let live = false;
  const send = (line: string) => res.write(`event: line\ndata: ${JSON.stringify(line)}\n\n`);
  await logs.follow((line) => (live ? send(line) : first.push(line)), { existing: true });
  // What was there is cut to its last lines; from here on, lines go out as they come.
  for (const line of first.splice(0).slice(-LOG_TAIL)) send(line);
  live = true;
  req.on('close', () => logs.stop());
}

/** GET /api/v1/diagnostics: `berth diagnose`'s bundle, as a download. */
export async function sendDiagnostics(deps: ApiDeps, res: ServerResponse): Promise<void> {
  const file = await deps.diagnose();
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'application/gzip',
    'content-length': (await stat(file)).size,
    'content-disposition': `attachment; filename="${basename(file)}"`,
  });
  createReadStream(file).pipe(res); // kept where `berth diagnose` keeps its bundles
}
