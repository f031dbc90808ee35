import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import * as z from '../common/zod.js';
import { writeFileAtomic } from '../common/atomic-file.js';
import { credentialRequestSchema, type CredentialReply, type CredentialRequest } from '../common/credential-messages.js';
import { jsonRoute, serveJsonSocket } from './json-socket.js';
import { SerialQueue } from '../common/serial-queue.js';
import { readJsonFile } from '../common/json-file.js';

/**
 * Berth's credential store: registry logins made in any integrated distro (or through the
 * host endpoint), kept once on the host side in $BERTH_HOME/credentials.json, mode 0600,
 * written whole or not at all. No distro, container or log sees the file; the distros reach
 * it only through their proxies and the root-only credentials socket. On Windows the same
 * entries would be generic credentials in the Credential Manager (README: Corporate networks).
 */
const storeSchema = z.object({ auths: z.record(z.string(), z.object({ Username: z.string(), Secret: z.string() }).strict()).default({}) }).strict();
type StoreFile = z.infer<typeof storeSchema>;

export class CredentialStore {
  /** One change at a time: two logins at once must not lose either. */
  private readonly queue = new SerialQueue();

  constructor(
    private readonly file: string,
    private readonly log: (line: string) => void,
  ) {}

  private read(): Promise<StoreFile> {
    return readJsonFile(this.file, storeSchema, {
      missing: () => ({ auths: {} }),
      invalid: (why) => `${this.file} is not Berth's credential store (${why}); move it away and \`docker login\` again`,
    });
  }

  private async write(store: StoreFile): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, `${JSON.stringify(store, null, 2)}\n`, 0o600);
  }

  handle(request: CredentialRequest): Promise<CredentialReply> {
    return this.queue.run(() => this.apply(request));
  }

  private async apply(r: CredentialRequest): Promise<CredentialReply> {
    const store = await this.read();
    switch (r.op) {
      case 'get': {
        const entry = store.auths[r.ServerURL];
        return entry ? { found: { ServerURL: r.ServerURL, ...entry } } : {};
      }
      case 'list':
        return { list: Object.fromEntries(Object.entries(store.auths).map(([url, e]) => [url, e.Username])) };
      case 'store':
        store.auths[r.ServerURL] = { Username: r.Username, Secret: r.Secret };
        await this.write(store);
        this.log(`credentials: stored the login of ${r.Username} for ${r.ServerURL}`);
        return {};
      case 'erase':
        if (store.auths[r.ServerURL]) {
          delete store.auths[r.ServerURL];
          await this.write(store);
          this.log(`credentials: erased the login for ${r.ServerURL}`);
        }
        return {};
    }
  }
}

/**
 * The credentials socket in the shared area (root only: the distros' proxies), served while
 * the engine runs, as the claim socket is: `POST /credentials` with a CredentialRequest.
 */
export class CredentialsSocket {
  private server: Server | undefined;

  constructor(
    private readonly store: CredentialStore,
    private readonly path: string | undefined,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    if (!this.path || this.server) return;
    const route = jsonRoute({
      schema: credentialRequestSchema,
      what: 'credential request',
      handle: (r) =>
        this.store.handle(r).then(
          (reply) => ({ status: 200, body: reply }),
          (e: Error) => ({ status: 500, body: { message: `Berth: the credential store: ${e.message}` } }),
        ),
    });
    this.server = await serveJsonSocket(this.path, { '/credentials': route }, (line) => this.log(`credentials: ${line}`));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((r) => server.close(r));
  }
}
