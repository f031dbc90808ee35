import { credentialRequestSchema, type CredentialReply, type CredentialRequest } from '../common/credential-messages.js';

/**
 * `POST /berth/credentials` on a Docker API socket (a distro's /var/run/docker.sock, the host
 * endpoint): docker-credential-berth's requests, schema-checked, handed to `handle` (the
 * manager's credential store, through its socket or directly). Whoever may use that socket
 * (root and the docker group) may use the logins, as they may use the engine.
 */
export function credentialRoute(handle: (request: CredentialRequest) => Promise<CredentialReply>): (json: unknown) => Promise<{ status: number; body: unknown }> {
  return async (json) => {
    const checked = credentialRequestSchema.safeParse(json);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      return { status: 400, body: { message: `Berth: malformed credential request at "${issue.path.join('.')}": ${issue.message}` } };
    }
    try {
      return { status: 200, body: await handle(checked.data) };
    } catch (e) {
      return { status: 502, body: { message: `Berth: cannot reach Berth's credential store (${(e as Error).message}); is Berth running? \`berth status\`` } };
    }
  };
}
