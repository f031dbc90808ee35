import { listenUnix, ROOT_ONLY } from '../../common/unix-socket.js';
import { createServer, type Server, type Socket } from 'node:net';
import { LogRing, type LogEntry } from './ring.js';

/** The query protocol (memlogd's): one byte from the client. */
export const QUERY = { dump: 0, follow: 1, dumpAndFollow: 2 } as const;

/** Lines a follower may have queued before it is skipped ahead: a slow reader never blocks anyone. */
const MAX_QUEUED_BYTES = 1024 * 1024;

interface Follower {
  socket: Socket;
  queued: number;
  skipped: number;
}

/**
 * The memlogd-style log daemon. Writers connect to the ingest socket and send one line
 * naming their source (`name` for stderr, `name.out` for stdout, as LinuxKit tags them),
 * then their raw output; the supervisor hands such a connection to each onboot action and
 * service as its stdout or stderr, so nothing in their definitions changes. Readers use
 * the query socket: dump, follow, or dump then follow, as newline-delimited JSON.
 */
export class LogDaemon {
  readonly ring: LogRing;
  private followers = new Set<Follower>();
  private servers: Server[] = [];

  constructor(options: { maxLines?: number; maxLineBytes?: number } = {}) {
    this.ring = new LogRing(options.maxLines ?? 5000, options.maxLineBytes ?? 1024);
  }

  /** A line from inside the daemon's own process (the agent's messages). */
  log(source: string, msg: string): void {
    this.publish(this.ring.push(source, msg));
  }

  private publish(entry: LogEntry): void {
    if (this.followers.size === 0) return;
    const line = `${JSON.stringify(entry)}\n`;
    for (const f of this.followers) {
      if (f.queued > MAX_QUEUED_BYTES) {
        f.skipped++;
        continue;
      }
      f.queued += line.length;
      f.socket.write(line, () => (f.queued -= line.length));
    }
  }

  async listen(ingestPath: string, queryPaths: string[]): Promise<void> {
    // Root only: the logs hold whatever services print (passwords included).
    const ingest = createServer((socket) => this.ingest(socket));
    await listenUnix(ingest, ingestPath, ROOT_ONLY);
    this.servers.push(ingest);
    for (const path of queryPaths) {
      const query = createServer((socket) => this.query(socket));
      await listenUnix(query, path, ROOT_ONLY);
      this.servers.push(query);
    }
  }

  /** One writer's stream: its source line, then its output (a connection to the ingest socket, or a stream handed over). */
  ingest(socket: Socket): void {
    let source: string | undefined;
    let partial = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      // A line longer than the cut is split at the cut rather than buffered without bound.
      while (partial.length > this.ring.maxLineBytes * 4) {
        parts.push(partial.slice(0, this.ring.maxLineBytes));
        partial = partial.slice(this.ring.maxLineBytes);
      }
      for (const line of parts) {
        if (source === undefined) source = line.trim() || 'unknown';
        else this.publish(this.ring.push(source, line));
      }
    });
    socket.on('end', () => {
      if (source !== undefined && partial) this.publish(this.ring.push(source, partial));
    });
    socket.on('error', () => {});
  }

  private query(socket: Socket): void {
    socket.once('data', (d: Buffer) => {
      const mode = d[0];
      if (mode !== QUERY.dump && mode !== QUERY.follow && mode !== QUERY.dumpAndFollow) {
        socket.end(`${JSON.stringify({ time: new Date().toISOString(), source: 'logd', msg: `unknown query byte ${mode}: send 0 (dump), 1 (follow) or 2 (dump, then follow)` })}\n`);
        return;
      }
      if (mode !== QUERY.follow) for (const e of this.ring.dump()) socket.write(`${JSON.stringify(e)}\n`);
      if (mode === QUERY.dump) {
        socket.end();
        return;
      }
      const follower: Follower = { socket, queued: 0, skipped: 0 };
      this.followers.add(follower);
      socket.on('close', () => this.followers.delete(follower));
    });
    socket.on('error', () => {});
  }

  close(): void {
    for (const s of this.servers) s.close();
    for (const f of this.followers) f.socket.destroy();
  }
}
