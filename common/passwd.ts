/** A user as the distro's own /etc/passwd and /etc/group describe it. */
export interface DistroUser {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
  home: string;
  shell: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 7 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/', shell: f[6] || '/bin/sh' }));
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parseGroup(text: string): GroupEntry[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

/**
 * Resolves a user name (or numeric uid, as `wsl -u 0` allows) to its ids and groups.
 * Returns undefined when the distro does not know the user.
 */
export function resolveUser(user: string, passwdText: string, groupText: string): DistroUser | undefined {
  const passwd = parsePasswd(passwdText);
  const entry = passwd.find((p) => p.name === user) ?? (/^\d+$/.test(user) ? passwd.find((p) => p.uid === Number(user)) : undefined);
  if (!entry) {
    if (user === 'root' || user === '0') return { name: 'root', uid: 0, gid: 0, groups: [0], home: '/root', shell: '/bin/sh' };
    return undefined;
  }
  const groups = new Set<number>([entry.gid]);
  for (const g of parseGroup(groupText)) if (g.members.includes(entry.name)) groups.add(g.gid);
  return { ...entry, groups: [...groups] };
}
