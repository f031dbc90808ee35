/**
 * Berth's Node programs that speak no TLS start without NODE_EXTRA_CA_CERTS: Node reads and
 * parses that bundle at every start, before any code runs (~35 ms of a ~60 ms start here,
 * with Debian's 144 CAs named in it). `bin/berth` (its shebang, `env -S -u`) talks to the
 * backend over a Unix socket; the Linux WSL host's Node half (`bin/berth-wsl`'s fallback,
 * wsl-entry.c) starts distros. Each keeps the value in STASHED_EXTRA_CA_CERTS, so that it
 * reaches what may need it as the user set it: the backend, which makes TLS connections
 * of its own (to an https:// upstream proxy), and a distro whose WSLENV names it.
 */
export const STASHED_EXTRA_CA_CERTS = 'BERTH_NODE_EXTRA_CA_CERTS';

/** `env` with NODE_EXTRA_CA_CERTS as the user had it; run as `node bin/berth`, nothing was stashed and env is as it was. */
export function withExtraCaCertsRestored(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!(STASHED_EXTRA_CA_CERTS in env)) return env;
  const { [STASHED_EXTRA_CA_CERTS]: stashed, ...rest } = env;
  return stashed ? { ...rest, NODE_EXTRA_CA_CERTS: stashed } : rest;
}
