import { describe, expect, it } from 'vitest';
import { defaultUser, withDockerGroup } from '../../wsl-proxy/docker-group.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\nana:x:1000:1000:,,,:/home/ana:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n';

describe('the docker group an integrated distro gets', () => {
  it('takes the default user from wsl.conf, else uid 1000, never root', () => {
    expect(defaultUser('[user]\ndefault=bob\n', PASSWD)).toBe('bob');
    expect(defaultUser('', PASSWD)).toBe('ana');
    expect(defaultUser('[user]\ndefault = root\n', PASSWD)).toBe('ana');
    expect(defaultUser('[user]\ndefault=ghost\n', 'root:x:0:0::/root:/bin/sh\n')).toBeUndefined();
  });

  it('adds the group at the first free system gid and the user to it, keeping the other lines', () => {
    const r = withDockerGroup('root:x:0:\nsudo:x:27:ana\nsystemd-journal:x:999:\n', 'ana');
    expect(r.text).toBe('root:x:0:\nsudo:x:27:ana\nsystemd-journal:x:999:\ndocker:x:998:ana\n');
    expect(r.gid).toBe(998);
    expect(r.changes).toEqual(['added the docker group (gid 998)', 'added ana to the docker group']);
  });

  it('adds the user to an existing group once, and changes nothing the second time', () => {
    const once = withDockerGroup('docker:x:120:carl\n', 'ana');
    expect(once.text).toBe('docker:x:120:carl,ana\n');
    const twice = withDockerGroup(once.text, 'ana');
    expect(twice.changes).toEqual([]);
    expect(twice.gid).toBe(120);
  });
});
