/** A container's inspect document, shaped for its page: what a user reads, nothing of the daemon's internals. */
export interface ContainerView {
  id: string;
  name: string;
  image: string;
  command: string;
  state: string;
  startedAt: string;
  created: string;
  project?: string;
  /** Values of names that look like secrets are flagged: the page hides them until clicked. */
  env: Array<{ name: string; value: string; secret: boolean }>;
  mounts: Array<{ type: string; source: string; destination: string; readOnly: boolean }>;
  ports: Array<{ container: string; host: string }>;
  networks: Array<{ name: string; ip: string }>;
  labels: Array<{ name: string; value: string }>;
}

/** Names whose values are not shown unasked (API_TOKEN, DB_PASSWORD, AWS_SECRET_ACCESS_KEY…). */
const SECRET_NAME = /pass|secret|token|key|credential|auth|private|cookie|session/i;
export const COMPOSE_PROJECT = 'com.docker.compose.project';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});
const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** ADDRESS:PORT, with an IPv6 address in brackets ([::]:8080). */
const hostAddress = (ip: string, port: string) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

export function containerView(doc: unknown): ContainerView {
  const d = obj(doc);
  const config = obj(d.Config);
  const state = obj(d.State);
  const labels = obj(config.Labels);
  const words = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  return {
    id: text(d.Id).slice(0, 12),
    name: text(d.Name).replace(/^\//, ''),
    image: text(config.Image),
    command: [...words(config.Entrypoint), ...words(config.Cmd)].join(' '),
    state: text(state.Status),
    startedAt: text(state.StartedAt),
    created: text(d.Created),
    ...(typeof labels[COMPOSE_PROJECT] === 'string' ? { project: labels[COMPOSE_PROJECT] } : {}),
    env: words(config.Env).map((e) => {
      const at = e.indexOf('=');
      const name = at < 0 ? e : e.slice(0, at);
      return { name, value: at < 0 ? '' : e.slice(at + 1), secret: SECRET_NAME.test(name) };
    }),
    mounts: (Array.isArray(d.Mounts) ? d.Mounts : []).map((m) => {
      const x = obj(m);
      return { type: text(x.Type), source: text(x.Name) || text(x.Source), destination: text(x.Destination), readOnly: x.RW === false };
    }),
    ports: Object.entries(obj(obj(d.NetworkSettings).Ports)).flatMap(([container, bindings]) =>
      (Array.isArray(bindings) ? bindings : []).map((b) => ({ container, host: hostAddress(text(obj(b).HostIp) || '0.0.0.0', text(obj(b).HostPort)) })),
    ),
    networks: Object.entries(obj(obj(d.NetworkSettings).Networks)).map(([name, n]) => ({ name, ip: text(obj(n).IPAddress) })),
    labels: Object.entries(labels).map(([name, value]) => ({ name, value: String(value) })),
  };
}
