import * as z from './zod.js';

/**
 * One `docker login` for every distro: what docker-credential-berth sends (to
 * /var/run/docker.sock's Berth route, `POST /berth/credentials`), what a distro's proxy hands
 * on to the manager's credentials socket, and what comes back. The credential-helper
 * protocol's own names (ServerURL, Username, Secret) are kept.
 */
const serverURL = z.string().min(1).max(2048);
export const credentialRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('store'), ServerURL: serverURL, Username: z.string().max(1024), Secret: z.string().max(64 * 1024) }).strict(),
  z.object({ op: z.literal('get'), ServerURL: serverURL }).strict(),
  z.object({ op: z.literal('erase'), ServerURL: serverURL }).strict(),
  z.object({ op: z.literal('list') }).strict(),
]);
export type CredentialRequest = z.infer<typeof credentialRequestSchema>;

export const credentialReplySchema = z
  .object({
    /** get: the entry, if there is one. */
    found: z.object({ ServerURL: serverURL, Username: z.string(), Secret: z.string() }).strict().optional(),
    /** list: server URL → user name. */
    list: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type CredentialReply = z.infer<typeof credentialReplySchema>;

/** The route on a Docker API socket that Berth's proxies answer themselves. */
export const CREDENTIALS_ROUTE = '/berth/credentials';
