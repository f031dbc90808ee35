import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerView } from '../../installer/dashboard/container-view.js';
import { ago, timeElement } from '../../installer/dashboard/human-time.js';
import { answerProject } from '../../installer/dashboard/projects.js';
import { answerDocker, type DiskUsage } from '../../installer/dashboard/docker-routes.js';
import { diskUsageSection } from '../../installer/dashboard/pages-disk.js';
import { volumesSection } from '../../installer/dashboard/pages-engine.js';

describe('times on the pages', () => {
  it('read as people say them, the exact one kept for the hover', () => {
    const now = Date.parse('2026-12-05T12:00:00Z');
    expect(ago('2026-12-05T11:59:30Z', now)).toBe('just now');
    expect(ago('2026-12-05T11:58:00Z', now)).toBe('2 minutes ago');
    expect(ago('2026-12-05T11:00:00Z', now)).toBe('1 hour ago');
    expect(ago('2026-12-02T12:00:00Z', now)).toBe('3 days ago');
    expect(ago('0001-01-01T00:00:00Z', now)).toBeUndefined(); // Docker's "never started"
    expect(timeElement('2026-12-05T11:58:00Z', now)).toBe('<time datetime="2026-12-05T11:58:00Z" title="2026-12-05T11:58:00Z">2 minutes ago</time>');
  });
});

describe("a container's page", () => {
  it('reads the inspect document: the command, env with secret-looking values flagged, mounts, ports, networks, the project', () => {
    const view = containerView({
      Id: '0123456789abcdef',
      Name: '/demo-web-1',
      Created: '2026-12-05T02:00:00Z',
      State: { Status: 'running', StartedAt: '2026-12-05T02:00:01Z' },
      Config: {
        Image: 'busybox',
        Entrypoint: null,
        Cmd: ['httpd', '-f'],
        Env: ['PLAIN=visible', 'API_TOKEN=tok', 'DB_PASSWORD=pw', 'AWS_SECRET_ACCESS_KEY=k', 'EMPTY', 'URL=a=b'],
        Labels: { 'com.docker.compose.project': 'demo' },
      },
      Mounts: [
        { Type: 'bind', Source: '/home/me/app', Destination: '/app', RW: false },
        { Type: 'volume', Name: 'data', Source: '/var/lib/docker/volumes/data/_data', Destination: '/data', RW: true },
      ],
      NetworkSettings: {
        Ports: {
          '80/tcp': [
            { HostIp: '0.0.0.0', HostPort: '32768' },
            { HostIp: '::', HostPort: '32768' },
          ],
          '53/udp': null,
        },
        Networks: { bridge: { IPAddress: '172.17.0.2' } },
      },
    });
    expect(view).toMatchObject({ id: '0123456789ab', name: 'demo-web-1', command: 'httpd -f', state: 'running', project: 'demo' });
    expect(view.env.map((e) => `${e.name}=${e.value}${e.secret ? ' (hidden)' : ''}`)).toEqual([
      'PLAIN=visible',
      'API_TOKEN=tok (hidden)',
      'DB_PASSWORD=pw (hidden)',
      'AWS_SECRET_ACCESS_KEY=k (hidden)',
      'EMPTY=',
      'URL=a=b',
    ]);
    expect(view.mounts).toEqual([
      { type: 'bind', source: '/home/me/app', destination: '/app', readOnly: true },
      { type: 'volume', source: 'data', destination: '/data', readOnly: false },
    ]);
    expect(view.ports).toEqual([
      { container: '80/tcp', host: '0.0.0.0:32768' },
      { container: '80/tcp', host: '[::]:32768' },
    ]);
    expect(view.networks).toEqual([{ name: 'bridge', ip: '172.17.0.2' }]);
  });
});

describe('a compose project from the dashboard', () => {
  let dir: string;
  let daemon: Server;
  const calls: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-projects-'));
    // An Engine API that knows two containers of the project "demo".
    daemon = createServer((req, res) => {
      calls.push(`${req.method} ${decodeURIComponent(req.url ?? '')}`);
      // A daemon before API 1.42: no `all` filter on a volume prune (a bare prune takes every unused volume).
      if (req.url?.startsWith('/volumes/prune?filters=')) return res.writeHead(400).end(JSON.stringify({ message: "Invalid filter 'all'" }));
      if (req.url === '/volumes/prune') return res.end(JSON.stringify({ VolumesDeleted: ['data'], SpaceReclaimed: 42 }));
      if (req.url === '/system/df') {
        const MiB = 2 ** 20;
        return res.end(
          JSON.stringify({
            LayersSize: 300 * MiB,
            Images: [
              { Size: 200 * MiB, SharedSize: 50 * MiB, Containers: 1 },
              { Size: 100 * MiB, SharedSize: 50 * MiB, Containers: 0 },
            ],
            Containers: [
              { SizeRw: 3 * MiB, State: 'running' },
              { SizeRw: 5 * MiB, State: 'exited' },
            ],
            Volumes: [
              { Name: 'used', UsageData: { Size: 10 * MiB, RefCount: 1 } },
              { Name: 'spare', UsageData: { Size: 20 * MiB, RefCount: 0 } },
            ],
            BuildCache: [
              { Size: 7 * MiB, InUse: false, Shared: false },
              { Size: 9 * MiB, InUse: true, Shared: false },
            ],
          }),
        );
      }
      if (req.url === '/containers/json?all=1') {
        const ports = [
          { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
          { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
          { IP: '0.0.0.0', PrivatePort: 53, PublicPort: 5353, Type: 'udp' },
          { PrivatePort: 9000, Type: 'tcp' },
        ];
        return res.end(
          JSON.stringify([
            {
              Id: 'aaa0123456789',
              Names: ['/demo-web-1'],
              Image: 'busybox',
              State: 'running',
              Status: 'Up',
              Ports: ports,
              Labels: { 'com.docker.compose.project': 'demo' },
              Mounts: [
                { Type: 'volume', Name: 'data' },
                { Type: 'bind', Source: '/home/me' },
              ],
            },
          ]),
        );
      }
      if (req.url?.startsWith('/containers/json')) {
        const demo = decodeURIComponent(req.url).includes('com.docker.compose.project=demo');
        return res.end(JSON.stringify(demo ? [{ Id: 'aaa' }, { Id: 'bbb' }] : []));
      }
      res.statusCode = req.url === '/containers/bbb/stop' ? 304 : 204;
      res.end();
    });
    await new Promise<void>((r) => daemon.listen(join(dir, 'docker.sock'), r));
  });
  afterAll(() => {
    daemon?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('acts on each of its containers (one already stopped is no failure), refuses a name that is not one, and says when it has none', async () => {
    const sock = join(dir, 'docker.sock');
    expect(await answerProject(sock, 'POST', '/api/v1/projects/demo/stop')).toEqual({ status: 200, body: { project: 'demo', containers: 2 } });
    expect(calls.slice(-2)).toEqual(['POST /containers/aaa/stop', 'POST /containers/bbb/stop']);
    expect(await answerProject(sock, 'DELETE', '/api/v1/projects/demo')).toMatchObject({ status: 200 });
    expect(calls.slice(-2)).toEqual(['DELETE /containers/aaa?force=1', 'DELETE /containers/bbb?force=1']);
    const before = calls.length;
    expect(await answerProject(sock, 'POST', '/api/v1/projects/..%2Fx/start')).toMatchObject({ status: 400, body: { message: 'not a compose project name: "../x"' } });
    expect(calls.length).toBe(before); // nothing reached the engine
    expect(await answerProject(sock, 'POST', '/api/v1/projects/other/start')).toMatchObject({ status: 404, body: { message: 'no containers of the project other' } });
    expect(await answerProject(sock, 'GET', '/api/v1/projects/demo/stop')).toBeUndefined();
    // A prune of named volumes on a daemon that predates the `all` filter: the bare prune, which means the same there.
    expect(await answerDocker(sock, 'POST', '/api/v1/volumes/prune')).toEqual({ status: 200, body: { VolumesDeleted: ['data'], SpaceReclaimed: 42 } });
    expect(calls.slice(-2)).toEqual(['POST /volumes/prune?filters={"all":["true"]}', 'POST /volumes/prune']);
    // The list the page groups: the project, and each published port once (Docker lists 0.0.0.0 and :: apart).
    expect(await answerDocker(sock, 'GET', '/api/v1/containers')).toEqual({
      status: 200,
      body: [
        {
          id: 'aaa012345678',
          name: 'demo-web-1',
          image: 'busybox',
          state: 'running',
          status: 'Up',
          project: 'demo',
          volumes: ['data'],
          ports: [
            { host: 8080, container: 80, proto: 'tcp' },
            { host: 5353, container: 53, proto: 'udp' },
          ],
        },
      ],
    });
    expect(await answerProject(sock, 'POST', '/api/v1/projects/demo/restart')).toBeUndefined();
  });

  it("draws the disk: each kind's size and what its prune would free, against berth-data's size", async () => {
    const MiB = 2 ** 20;
    const a = await answerDocker(join(dir, 'docker.sock'), 'GET', '/api/v1/system/df');
    const usage = a?.body as DiskUsage;
    // An unused image frees what it does not share; a running container, an in-use volume or cache, nothing.
    expect(usage).toMatchObject({
      images: { count: 2, bytes: 300 * MiB, reclaimable: 50 * MiB },
      containers: { count: 2, bytes: 8 * MiB, reclaimable: 5 * MiB },
      volumes: { count: 2, bytes: 30 * MiB, reclaimable: 20 * MiB },
      buildCache: { bytes: 16 * MiB, reclaimable: 7 * MiB },
    });
    const html = diskUsageSection(usage, { state: 'ok', sizeBytes: 1000 * MiB, usedBytes: 400 * MiB, availBytes: 600 * MiB });
    expect(html).toContain('berth-data: 400 MiB of 1000 MiB used. Prunes would free 82 MiB.'); // as `berth status` and `berth data` say sizes
    // The bar is the disk: images a third of it, then the others, then what is free.
    expect(html).toContain('<rect class="k0" x="0.0" y="0" width="300.0" height="20"></rect>');
    expect(html).toContain('<rect class="k4" x="354.0" y="0" width="46.0" height="20"></rect>'); // the rest of what is used
    expect(html).toContain('<rect class="k5" x="400.0" y="0" width="600.0" height="20"></rect>');
    expect(html).toMatch(/Containers<\/td><td>2<\/td><td>8 MiB<\/td><td>5 MiB<\/td><td><form method="post" action="\/ui\/containers\/prune"/);
    expect(diskUsageSection(usage, undefined)).toContain('Shown while the engine runs.');
  });
});

describe('the Volumes page', () => {
  it('shows each volume with its size and the containers using it', () => {
    const html = volumesSection({
      volumes: [
        { name: 'data', driver: 'local' },
        { name: 'spare', driver: 'local' },
      ],
      containers: [
        { id: 'a', name: 'web', image: 'x', state: 'running', status: 'Up', ports: [], volumes: ['data'] },
        { id: 'b', name: 'job', image: 'x', state: 'exited', status: 'Exited', ports: [], volumes: ['data'] },
      ],
      df: {
        images: { count: 0, bytes: 0, reclaimable: 0 },
        containers: { count: 0, bytes: 0, reclaimable: 0 },
        volumes: { count: 2, bytes: 3145728, reclaimable: 0 },
        buildCache: { bytes: 0, reclaimable: 0 },
        volumeBytes: { data: 3145728, spare: -1 },
      },
    });
    expect(html).toContain('<tr data-volume="data"><td>data</td><td>local</td><td>3.0 MiB</td><td>web, job</td>');
    expect(html).toContain('<tr data-volume="spare"><td>spare</td><td>local</td><td></td><td><em>none</em></td>');
  });
});
