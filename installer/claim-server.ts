import { createServer, type Server } from 'node:http';
import { portClaimReplySchema, portClaimSchema, type PortRequest } from '../common/port-forward/claim-messages.js';
import { listenUnix, ROOT_ONLY } from '../common/unix-socket.js';

/** A claim names at most a few ports; anything this big is not one. */
const MAX_CLAIM_BYTES = 64 * 1024;

/**
 * The claim socket the distros' proxies ask before a container starts: `POST /claim` with
 * `{"ports": [{"host", "port", "proto"}]}` (portClaimSchema). A malformed or oversized
 * request gets a Docker-style 400 and a log line; the server keeps serving.
 */
export async function serveClaimSocket(path: string, claim: (ports: PortRequest[]) => Promise<void>, log: (line: string) => void): Promise<Server> {
  const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
  const server = createServer((req, res) => {
    const answer = ({ status, body }: { status: number; body: string }) => {
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(body);
    };
    if (req.method !== 'POST' || req.url !== '/claim') {
      req.resume();
      return answer(json(404, { message: `Berth: no such endpoint ${req.method} ${req.url}; use POST /claim` }));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_CLAIM_BYTES) {
        log(`claims: refused a request over ${MAX_CLAIM_BYTES} bytes`);
        answer(json(413, { message: `Berth: a port claim must be under ${MAX_CLAIM_BYTES} bytes` }));
        req.destroy();
      } else chunks.push(d);
    });
    req.on('error', () => {});
    req.on('end', () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        log(`claims: malformed request: ${(e as Error).message}`);
        return answer(json(400, { message: `Berth: a port claim must be JSON (${(e as Error).message})` }));
      }
      const checked = portClaimSchema.safeParse(parsed);
      if (!checked.success) {
        const issue = checked.error.issues[0]!;
        log(`claims: malformed request: ${issue.path.join('.')}: ${issue.message}`);
        return answer(json(400, { message: `Berth: malformed port claim at "${issue.path.join('.')}": ${issue.message}` }));
      }
      claim(checked.data.ports).then(
        () => answer(json(200, portClaimReplySchema.parse({ claimed: checked.data.ports.length }))),
        (e: Error) => answer(json(409, { message: e.message })),
      );
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  // Root only (the distros' proxies): a claim binds host ports.
  await listenUnix(server, path, ROOT_ONLY);
  return server;
}
