/**
 * bin/berth runs node without NODE_EXTRA_CA_CERTS (its shebang, `env -S -u`): Node reads and
 * parses that bundle at every start, before any of Berth's code runs (~35 ms of a ~60 ms
 * start here, with Debian's 144 CAs named in it), and the CLI speaks TLS to no one: it talks
 * to the backend over a Unix socket. The shebang keeps the value in STASHED_EXTRA_CA_CERTS,
 * and the backend, which does fetch over TLS (a PAC file, the update check), gets it back.
 */
export const STASHED_EXTRA_CA_CERTS = 'BERTH_NODE_EXTRA_CA_CERTS';

/** `env` with NODE_EXTRA_CA_CERTS as the user had it; run as `node bin/berth`, nothing was stashed and env is as it was. */
export function withExtraCaCertsRestored(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!(STASHED_EXTRA_CA_CERTS in env)) return env;
  const { [STASHED_EXTRA_CA_CERTS]: stashed, ...rest } = env;
  return stashed ? { ...rest, NODE_EXTRA_CA_CERTS: stashed } : rest;
}
