import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debianRootfsTarball } from '../helpers/debian-distro.js';
import { TestBerth, until } from '../helpers/berth-manager.js';
import { REPO, requireRoot } from '../helpers/wsl-root.js';

const run = requireRoot('real clients in a Debian user distro');

/** The static docker CLI this machine has (28.x), run from inside the distro as a user would download it. */
const STATIC_CLI = '/usr/local/bin/docker';

/**
 * Real clients, driven from inside a Debian user distro exactly as a user would: Debian's
 * docker CLI (20.10, the one integration links), the static 28.x CLI, Debian's
 * docker-compose and the Dev Containers CLI (what VS Code Remote-WSL + Dev Containers runs).
 */
describe.runIf(run)('real clients from a Debian user distro', () => {
  let t: TestBerth;
  const sh = (script: string, user = 'me') => t.sh('Debian', script, user);
  const ok = async (script: string) => {
    const r = await sh(script);
    expect(r.exitCode, `${script}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    if (!existsSync(STATIC_CLI)) throw new Error(`${STATIC_CLI} (the static docker 28.x CLI) is missing: this test drives it from the distro`);
    t = new TestBerth();
    const tarball = await debianRootfsTarball();
    await t.enableWithImages();
    expect((await t.wsl(['--import', 'Debian', join(t.root, 'distros/Debian'), tarball])).exitCode).toBe(0);
    // What a user would install by hand: Node 20 and `npm i -g @devcontainers/cli`, and a downloaded docker CLI.
    const extras = join(t.root, 'extras.tar');
    await execa('tar', ['-cf', extras, '--transform', 's|^.*/node$|usr/local/bin/node|', process.execPath]);
    await execa('tar', ['-rf', extras, '-C', join(REPO, 'node_modules'), '--transform', 's|^@devcontainers|usr/local/lib/node_modules/@devcontainers|', '@devcontainers/cli']);
    await execa('tar', ['-rf', extras, '--transform', 's|^.*/docker$|opt/docker-28/docker|', STATIC_CLI]);
    expect(
      (await t.wsl(['-d', 'Debian', '-u', 'root', '--exec', 'sh', '-c', 'tar -C / -xf - && ln -sf ../lib/node_modules/@devcontainers/cli/devcontainer.js /usr/local/bin/devcontainer'], { inputFile: extras })).exitCode,
    ).toBe(0);
    // The engine's own copy of the same Debian root, as a local base image (no registry here).
    const imported = await execa('docker', ['--context', 'berth', 'import', tarball, 'debian-local:bookworm'], { reject: false, env: { ...process.env, DOCKER_CONFIG: t.env.DOCKER_CONFIG! } });
    expect(imported.exitCode, imported.stderr).toBe(0);
    const integrated = await t.berth(['integrate', 'Debian']);
    expect(integrated.exitCode, integrated.stderr).toBe(0);
  }, 600_000);
  afterAll(async () => t?.cleanup());

  it("puts the distro's default user in the docker group, so docker works without sudo", async () => {
    expect((await ok('id -nG')).split(' ')).toContain('docker');
    expect(await ok('ls -l /var/run/docker.sock')).toMatch(/^srw-rw---- 1 root docker /);
  });

  it("drives the engine with Debian's docker CLI 20.10: bind mount of a distro folder and a published port", async () => {
    expect(await ok("docker version --format '{{.Client.Version}} {{.Server.Version}}'")).toMatch(/^20\.10\.\S+ 20\.10\./);
    await ok('mkdir -p ~/site && echo "debian-cli" > ~/site/index.html');
    await ok('docker run -d --name cli20 -v ~/site:/www:ro -p 18300:80 busybox httpd -f -p 80 -h /www');
    expect(await until(async () => (await sh('curl -sf http://127.0.0.1:18300/')).stdout === 'debian-cli', 10_000)).toBe(true);
    await ok('docker rm -f cli20');
  });

  it('negotiates the API version down for the static 28.x CLI and runs the same job with it', async () => {
    const version = await ok("/opt/docker-28/docker version --format '{{.Client.Version}} {{.Server.APIVersion}}'");
    expect(version).toMatch(/^28\.\S+ 1\.41$/);
    await ok('mkdir -p ~/site28 && echo "static-cli" > ~/site28/index.html');
    await ok('/opt/docker-28/docker run -d --name cli28 --mount type=bind,source=$HOME/site28,target=/www,readonly -p 18301:80 busybox httpd -f -p 80 -h /www');
    expect(await until(async () => (await sh('curl -sf http://127.0.0.1:18301/')).stdout === 'static-cli', 10_000)).toBe(true);
    expect(await ok("/opt/docker-28/docker ps --filter name=cli28 --format '{{.Names}} {{.Ports}}'")).toMatch(/^cli28 .*:18301->80\/tcp/);
    expect(await ok('/opt/docker-28/docker exec cli28 cat /www/index.html')).toBe('static-cli');
    await ok('/opt/docker-28/docker rm -f cli28');
  });

  it("runs a Compose project with Debian's docker-compose: build, bind mount, named volume, port; up, logs, down -v", async () => {
    await ok(`mkdir -p ~/shop && cd ~/shop && printf 'FROM busybox\\nRUN mkdir -p /seed && echo built > /seed/stamp\\n' > Dockerfile && echo "v1" > index.html && cat > docker-compose.yml <<'EOF'
version: "3.8"
services:
  web:
    build: .
    ports: ["18302:80"]
    volumes: [".:/www:ro", "data:/data"]
    command: sh -c "cat /seed/stamp; echo up >> /data/starts; echo web-ready; httpd -f -p 80 -h /www"
volumes:
  data: {}
EOF`);
    const up = await sh('cd ~/shop && docker-compose up -d --build 2>&1');
    expect(up.exitCode, up.stdout).toBe(0);
    expect(await until(async () => (await sh('curl -sf http://127.0.0.1:18302/index.html')).stdout === 'v1', 15_000)).toBe(true);
    // The bind mount is the project folder itself: an edit in the distro shows at once.
    await ok('echo v2 > ~/shop/index.html');
    expect((await sh('curl -sf http://127.0.0.1:18302/index.html')).stdout).toBe('v2');
    // And from the host (the "Windows" localhost).
    expect((await execa('curl', ['-sf', 'http://127.0.0.1:18302/index.html'])).stdout).toBe('v2');
    const logs = await ok('cd ~/shop && docker-compose logs --no-color web');
    expect(logs).toContain('built');
    expect(logs).toContain('web-ready');
    expect(await ok("docker volume ls --format '{{.Name}}'")).toContain('shop_data');
    const down = await sh('cd ~/shop && docker-compose down -v 2>&1');
    expect(down.exitCode, down.stdout).toBe(0);
    expect(await ok("docker volume ls --format '{{.Name}}'")).not.toContain('shop_data');
    expect(await ok("docker ps -a --format '{{.Names}}'")).not.toContain('shop');
    expect(await until(async () => (await sh('curl -s http://127.0.0.1:18302/')).exitCode !== 0, 10_000)).toBe(true);
  }, 120_000);

  it('brings up a Dev Container from a folder in the distro (Dockerfile FROM a local image); exec sees the workspace and later edits', async () => {
    await ok(`mkdir -p ~/devproj/.devcontainer && cd ~/devproj && echo "first" > notes.txt && printf 'FROM debian-local:bookworm\\nRUN echo baked > /etc/berth-baked\\n' > .devcontainer/Dockerfile && cat > .devcontainer/devcontainer.json <<'EOF'
{
  "name": "berth-dev",
  "build": { "dockerfile": "Dockerfile" },
  "remoteUser": "root"
}
EOF`);
    const up = await sh('cd ~/devproj && devcontainer up --workspace-folder . --log-level info 2>/tmp/devcontainer-up.log; s=$?; tail -c 4000 /tmp/devcontainer-up.log >&2; exit $s');
    expect(up.exitCode, up.stderr).toBe(0);
    const result = JSON.parse(up.stdout.trim().split('\n').pop()!) as { outcome: string; containerId: string; remoteWorkspaceFolder: string };
    expect(result.outcome).toBe('success');
    expect(result.remoteWorkspaceFolder).toBe('/workspaces/devproj');
    const exec = (cmd: string) => sh(`cd ~/devproj && devcontainer exec --workspace-folder . ${cmd}`);
    expect((await exec('cat /workspaces/devproj/notes.txt /etc/berth-baked')).stdout).toBe('first\nbaked');
    await ok('echo "edited in the distro" >> ~/devproj/notes.txt');
    expect((await exec('cat /workspaces/devproj/notes.txt')).stdout).toBe('first\nedited in the distro');
    // Written in the container, seen in the distro (the same folder, not a copy).
    await exec('sh -c "echo from-container > /workspaces/devproj/out.txt"');
    expect(await ok('cat ~/devproj/out.txt')).toBe('from-container');
    // A second `up` finds the running container instead of making another.
    const again = await sh('cd ~/devproj && devcontainer up --workspace-folder . 2>/dev/null');
    expect((JSON.parse(again.stdout.trim().split('\n').pop()!) as { containerId: string }).containerId).toBe(result.containerId);
    await ok(`docker rm -f ${result.containerId}`);
  }, 300_000);
});
