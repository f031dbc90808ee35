import { parsePasswd } from '../common/passwd.js';
import { parseWslConf } from '../common/wsl-conf.js';

/**
 * The distro's user who runs `docker`: wsl.conf's [user] default, else the account WSL's
 * first-run setup makes (uid 1000). Undefined when the distro has only root.
 */
export function defaultUser(wslConfText: string, passwdText: string): string | undefined {
  const users = parsePasswd(passwdText);
  const named = parseWslConf(wslConfText).user.default;
  if (named && named !== 'root' && users.some((u) => u.name === named)) return named;
  return users.find((u) => u.uid === 1000)?.name;
}

/**
 * /etc/group with a docker group that `user` belongs to, as Docker's Linux packages and
 * their docs arrange (the socket is root:docker 0660). The group gets the first free system
 * gid from 999 down if missing. Lines other than docker's are kept as they are.
 */
export function withDockerGroup(groupText: string, user: string | undefined): { text: string; gid: number; changes: string[] } {
  const lines = groupText.split('\n').filter((l) => l !== '');
  const changes: string[] = [];
  let index = lines.findIndex((l) => l.startsWith('docker:'));
  if (index < 0) {
    const used = new Set(lines.map((l) => Number(l.split(':')[2])));
    let gid = 999;
    while (used.has(gid)) gid--;
    lines.push(`docker:x:${gid}:`);
    index = lines.length - 1;
    changes.push(`added the docker group (gid ${gid})`);
  }
  const fields = lines[index]!.split(':');
  while (fields.length < 4) fields.push('');
  const members = fields[3]!.split(',').filter(Boolean);
  if (user && !members.includes(user)) {
    members.push(user);
    fields[3] = members.join(',');
    lines[index] = fields.join(':');
    changes.push(`added ${user} to the docker group`);
  }
  return { text: `${lines.join('\n')}\n`, gid: Number(fields[2]), changes };
}
