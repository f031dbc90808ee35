import { describe, expect, it } from 'vitest';
import { isNamedVolume, splitBind } from '../../wsl-proxy/binds.js';
import { ProxyError } from '../../wsl-proxy/errors.js';
import { HostDriveTranslator } from '../../wsl-proxy/host-translator.js';
import { routeOf } from '../../wsl-proxy/docker-proxy.js';
import { translateCreateBody, translateVolumeBody, type PathTranslator } from '../../wsl-proxy/translate.js';

const tagging: PathTranslator = { toDaemon: async (s, o) => `/daemon${o.createMissing ? '+' : ''}${s.startsWith('/') ? '' : '/'}${s}` };

describe('bind specs', () => {
  it('splits src:dst[:opts], keeping Windows drive letters and colons on the container side', () => {
    expect(splitBind('/home/me/app:/src')).toEqual({ source: '/home/me/app', rest: ':/src' });
    expect(splitBind('/a b/ü:/dst:ro,z')).toEqual({ source: '/a b/ü', rest: ':/dst:ro,z' });
    expect(splitBind('C:\\Users\\me:/w')).toEqual({ source: 'C:\\Users\\me', rest: ':/w' });
    expect(splitBind('\\\\?\\D:\\x:/w:ro')).toEqual({ source: '\\\\?\\D:\\x', rest: ':/w:ro' });
    expect(splitBind('c:/x:/y')).toEqual({ source: 'c:/x', rest: ':/y' });
  });

  it('tells named volumes from paths', () => {
    expect(isNamedVolume('data')).toBe(true);
    expect(isNamedVolume('/data')).toBe(false);
    expect(isNamedVolume('C:\\data')).toBe(false);
  });

  it('strips API version prefixes from routes', () => {
    expect(routeOf('/v1.41/containers/create?name=x')).toBe('/containers/create');
    expect(routeOf('/containers/create')).toBe('/containers/create');
    expect(routeOf('/v1/volumes/create')).toBe('/volumes/create');
    // As the daemon's router reads them: no spelling of a translated route slips past.
    expect(routeOf('/v1.41/containers/%63reate?name=x')).toBe('/containers/create');
    expect(routeOf('//containers//create')).toBe('/containers/create');
    expect(routeOf('http://docker/v1.41/containers/create?name=x')).toBe('/containers/create');
    expect(routeOf('/containers/a%2/start')).toBe('/containers/a%2/start');
  });
});

describe('translating POST /containers/create', () => {
  it('rewrites Binds (creating missing dirs) and bind Mounts (not creating), leaving volumes', async () => {
    const { body, mappings } = await translateCreateBody(
      {
        Image: 'busybox',
        HostConfig: {
          Binds: ['/home/me/app:/src:ro', 'named:/data', '/var/run/docker.sock:/s'],
          Mounts: [
            { Type: 'bind', Source: '/home/me/f.txt', Target: '/f' },
            { Type: 'volume', Source: 'v', Target: '/v' },
          ],
        },
      },
      tagging,
    );
    expect(body).toEqual({
      Image: 'busybox',
      HostConfig: {
        Binds: ['/daemon+/home/me/app:/src:ro', 'named:/data', '/var/run/docker.sock:/s'],
        Mounts: [
          { Type: 'bind', Source: '/daemon/home/me/f.txt', Target: '/f' },
          { Type: 'volume', Source: 'v', Target: '/v' },
        ],
      },
    });
    expect(mappings).toEqual([
      { client: '/home/me/app', daemon: '/daemon+/home/me/app' },
      { client: '/var/run/docker.sock', daemon: '/var/run/docker.sock' },
      { client: '/home/me/f.txt', daemon: '/daemon/home/me/f.txt' },
    ]);
  });

  it('refuses bodies that are not a container config, with a 400', async () => {
    await expect(translateCreateBody([1], tagging)).rejects.toMatchObject({ status: 400 });
    await expect(translateCreateBody({ HostConfig: { Binds: [7] } }, tagging)).rejects.toThrow(/must hold strings/);
  });

  it('rewrites local bind volumes only', async () => {
    expect(await translateVolumeBody({ Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: '/srv/x' } }, tagging)).toEqual({
      Driver: 'local',
      DriverOpts: { type: 'none', o: 'bind', device: '/daemon/srv/x' },
    });
    const nfs = { Driver: 'local', DriverOpts: { type: 'nfs', o: 'addr=1.2.3.4', device: ':/export' } };
    expect(await translateVolumeBody(structuredClone(nfs), tagging)).toEqual(nfs);
  });
});

describe('host mode: shared drives', () => {
  const t = new HostDriveTranslator({ c: '/srv/c', d: '/data' });

  it('maps host and Windows paths on a shared drive to /mnt/host/<letter>', async () => {
    expect(await t.toDaemon('/srv/c/Users/me/app')).toBe('/mnt/host/c/Users/me/app');
    expect(await t.toDaemon('/data')).toBe('/mnt/host/d');
    expect(await t.toDaemon('C:\\Users\\me')).toBe('/mnt/host/c/Users/me');
    expect(await t.toDaemon('\\\\?\\D:\\x y')).toBe('/mnt/host/d/x y');
  });

  it('names the setting when a path is on no shared drive', async () => {
    const e = await t.toDaemon('/etc/passwd').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProxyError);
    expect((e as ProxyError).message).toContain('/etc/passwd is not on a shared drive (shared: c=/srv/c, d=/data); add its drive to "drives"');
    await expect(t.toDaemon('E:\\x')).rejects.toThrow(/not on a shared drive/);
  });
});
