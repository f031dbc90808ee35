import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRequestOf } from '../../installer/dashboard/form-run.js';
import { answerRun, createBody, fieldOf, runRequestSchema } from '../../installer/dashboard/run-image.js';
import { HostDriveTranslator } from '../../wsl-proxy/host-translator.js';

describe('running an image from the Images page', () => {
  it('reads the form as docker run would: ports by commas, mounts a line each (a Windows path keeps its colon), the command by spaces', () => {
    const form = new URLSearchParams({ image: ' nginx:1.27 ', name: '', command: 'httpd  -f -p 80', ports: '8080:80, 53/udp  9000', mounts: 'C:\\Users\\me\\site:/usr/share/nginx/html:ro\r\ndata:/data\n' });
    const request = runRequestSchema.parse(runRequestOf(form));
    expect(request).toEqual({ image: 'nginx:1.27', command: ['httpd', '-f', '-p', '80'], ports: ['8080:80', '53/udp', '9000'], mounts: ['C:\\Users\\me\\site:/usr/share/nginx/html:ro', 'data:/data'] });
    expect(createBody(request)).toEqual({
      Image: 'nginx:1.27',
      Cmd: ['httpd', '-f', '-p', '80'],
      ExposedPorts: { '80/tcp': {}, '53/udp': {}, '9000/tcp': {} },
      HostConfig: {
        PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '', HostPort: '' }], '9000/tcp': [{ HostIp: '', HostPort: '' }] },
        Binds: ['C:\\Users\\me\\site:/usr/share/nginx/html:ro', 'data:/data'],
      },
    });
  });

  it('puts each refusal at its field', () => {
    expect(fieldOf('No such image: nope:1')).toBe('image');
    expect(fieldOf('Conflict. The container name "/web" is already in use by container "abc"')).toBe('name');
    expect(fieldOf('driver failed programming external connectivity: Bind for 0.0.0.0:8080 failed: port is already allocated')).toBe('ports');
    expect(fieldOf('Berth: /etc is not on a shared drive (shared: c=/mnt/c)')).toBe('mounts');
  });

  it("shows a container's bind sources as the user's own paths on the shared drives, and nothing it cannot name", () => {
    const linux = new HostDriveTranslator({ c: '/srv/c' });
    expect(linux.toClient('/mnt/host/c/site/www')).toBe('/srv/c/site/www');
    expect(linux.toClient('/mnt/host/c/../../etc')).toBeUndefined();
    expect(linux.toClient('/mnt/host/d/x')).toBeUndefined();
    expect(linux.toClient('/var/lib/docker/volumes/data/_data')).toBeUndefined();
    const windows = new HostDriveTranslator({ c: 'C:\\' });
    expect(windows.toClient('/mnt/host/c/Users/me/site')).toBe('C:\\Users\\me\\site');
    expect(windows.toClient('/mnt/host/c')).toBe('C:\\');
  });

  describe('against an Engine API', () => {
    let dir: string;
    let engine: Server;
    const calls: string[] = [];
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'berth-run-'));
      engine = createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          calls.push(`${req.method} ${req.url}`);
          if (req.url?.startsWith('/containers/create')) return res.writeHead(201).end(JSON.stringify({ Id: 'c'.repeat(64) }));
          const taken = calls.some((c) => c.includes('name=taken')); // that one's port is in use
          if (req.url?.endsWith('/start')) return taken ? res.writeHead(500).end(JSON.stringify({ message: 'Bind for 0.0.0.0:8080 failed: port is already allocated' })) : res.writeHead(204).end();
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => engine.listen(join(dir, 'docker.sock'), r));
    });
    afterAll(() => {
      engine?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates and starts it; one that will not start is removed again, with the reason', async () => {
      const sock = join(dir, 'docker.sock');
      expect(await answerRun(sock, { image: 'busybox', name: 'web', ports: ['8080:80'] })).toEqual({ status: 201, body: { id: 'cccccccccccc' } });
      expect(calls).toEqual(['POST /containers/create?name=web', `POST /containers/${'c'.repeat(64)}/start`]);
      calls.length = 0;
      const refused = await answerRun(sock, { image: 'busybox', name: 'taken', ports: ['8080:80'] });
      expect(refused).toEqual({ status: 500, body: { message: 'Bind for 0.0.0.0:8080 failed: port is already allocated (the container did not start and was removed)' } });
      expect(calls.at(-1)).toBe(`DELETE /containers/${'c'.repeat(64)}?force=1`);
    });

    it('refuses a request that is not one, naming every problem, and a relative path, before the engine hears of it', async () => {
      calls.length = 0;
      const bad = await answerRun(join(dir, 'docker.sock'), { image: '', ports: ['80x', '70000:80', '8080:0'], mounts: ['nocolon'], extra: 1 });
      expect(bad.status).toBe(400);
      expect((bad.body as { issues: Array<{ path: string }> }).issues.map((i) => i.path).sort()).toEqual(['', 'image', 'mounts', 'ports', 'ports', 'ports']);
      expect((bad.body as { message: string }).message).toContain('ports.1: a port number is 1 to 65535');
      expect(await answerRun(join(dir, 'docker.sock'), { image: 'busybox', mounts: ['./site:/www'] })).toMatchObject({ status: 400, body: { message: expect.stringContaining('./site is not an absolute path') } });
      expect(calls).toEqual([]);
    });
  });
});
