/** The parts of /etc/wsl.conf that the Linux WSL host honours. */
export interface WslConf {
  automount: { enabled: boolean; root: string };
  boot: { command?: string };
  user: { default?: string };
  network: { generateResolvConf: boolean; generateHosts: boolean };
}

export const DEFAULT_WSL_CONF: WslConf = { automount: { enabled: true, root: '/mnt/' }, boot: {}, user: {}, network: { generateResolvConf: true, generateHosts: true } };

/** Parses wsl.conf's INI dialect: `[section]`, `key = value`, `#`/`;` comments, optional quotes. */
export function parseWslConf(text: string): WslConf {
  const values = new Map<string, string>();
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    values.set(`${section}.${key}`, value);
  }
  const bool = (key: string, fallback: boolean) => {
    const v = values.get(key)?.toLowerCase();
    return v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes';
  };
  let root = values.get('automount.root') ?? DEFAULT_WSL_CONF.automount.root;
  if (!root.startsWith('/')) root = `/${root}`;
  if (!root.endsWith('/')) root = `${root}/`;
  return {
    automount: { enabled: bool('automount.enabled', true), root },
    boot: { command: values.get('boot.command') || undefined },
    user: { default: values.get('user.default') || undefined },
    network: { generateResolvConf: bool('network.generateresolvconf', true), generateHosts: bool('network.generatehosts', true) },
  };
}
