// docker-credential-berth: Docker's credential-helper protocol (`store`, `get`, `erase`,
// `list`, with the request on stdin and the answer on stdout), for the docker CLI of an
// integrated distro. Each request goes to the distro's Docker API socket, whose proxy hands it
// to the manager's one credential store: a login in one distro is a login in all of them.
import { text } from 'node:stream/consumers';
import { httpJson } from '../common/http-client.js';
import { credentialReplySchema, CREDENTIALS_ROUTE, type CredentialRequest } from '../common/credential-messages.js';

/** What the docker CLI recognises as "no such login" (and then goes on without one). */
const NOT_FOUND = 'credentials not found in native keychain';

/** The socket: BERTH_CREDENTIALS_SOCKET, else DOCKER_HOST when it is a unix:// one, else the distro's. */
function socketPath(env: NodeJS.ProcessEnv): string {
  if (env.BERTH_CREDENTIALS_SOCKET) return env.BERTH_CREDENTIALS_SOCKET;
  if (env.DOCKER_HOST?.startsWith('unix://')) return env.DOCKER_HOST.slice('unix://'.length);
  return '/var/run/docker.sock';
}

function requestFor(op: string | undefined, input: string): CredentialRequest {
  switch (op) {
    case 'store': {
      const c = JSON.parse(input) as Record<string, unknown>;
      // Anything but a string is left for the schema check to refuse, by name.
      const field = (v: unknown) => (typeof v === 'string' ? v : '');
      return { op, ServerURL: field(c.ServerURL), Username: field(c.Username), Secret: field(c.Secret) };
    }
    case 'get':
    case 'erase':
      return { op, ServerURL: input.trim() };
    case 'list':
      return { op };
    default:
      throw new Error(`usage: docker-credential-berth store|get|erase|list (the request on stdin), not ${JSON.stringify(op ?? '')}`);
  }
}

async function main(): Promise<number> {
  const op = process.argv[2];
  const request = requestFor(op, op === 'list' ? '' : await text(process.stdin));
  const reply = await httpJson(socketPath(process.env), { method: 'POST', path: CREDENTIALS_ROUTE, json: request, timeoutMs: 15_000 }, credentialReplySchema);
  if (request.op === 'get') {
    if (!reply.found) {
      process.stdout.write(`${NOT_FOUND}\n`);
      return 1;
    }
    process.stdout.write(JSON.stringify(reply.found));
  } else if (request.op === 'list') process.stdout.write(JSON.stringify(reply.list ?? {}));
  return 0;
}

// The protocol: a failure is a message on stdout and a non-zero exit.
main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e: Error) => process.stdout.write(`docker-credential-berth: ${e.message}\n`, () => process.exit(1)),
);
