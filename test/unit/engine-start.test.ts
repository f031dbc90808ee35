import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_SOCKET, DAEMON_SOCKET, Engine } from '../../installer/engine.js';
import { AGENT_WARNING, ENGINE_NETNS_LINE } from '../../common/agent-warning.js';
import { AGENT_COMMAND } from '../../common/shared-area.js';
import { FakeWsl, type FakeProcess } from '../helpers/fake-wsl.js';

const agentStatus = { state: 'running', engine: 'ready', pid: 77, startedAt: '2026-12-05T00:00:00Z', dockerSocket: DAEMON_SOCKET, onboot: [], services: [] };

/** A fake agent that acts over time (its promise is the test's own; a failure shows as the test's). */
const acting = (act: (p: FakeProcess) => Promise<void>) => (p: FakeProcess) => void act(p);

/** What the manager wrote to an agent launched with --hold, once it has ended its stdin: 'go', or '' when withdrawn. */
function told(p: FakeProcess): Promise<string> {
  let text = '';
  p.stdin.on('data', (d: Buffer) => (text += d.toString()));
  return new Promise((resolve) => p.stdin.once('end', () => resolve(text.trim())));
}

/** A local socket answering like the agent's (/status) or dockerd's (/_ping). */
function serve(path: string, answer: { status: number; body: string }): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(answer.status).end(answer.body));
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

// The manager reads `berth-agent start`'s output as it comes: the line saying the engine's
// network namespace is published lets the backend attach the engine link while dockerd
// still starts; warnings become status events; a failed start says the agent's own words.
describe('the engine start, as the manager drives the agent', () => {
  const servers: Server[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function world() {
    const dir = mkdtempSync(join(tmpdir(), 'berth-engine-start-'));
    dirs.push(dir);
    const wsl = new FakeWsl();
    servers.push(await serve(join(dir, 'docker.sock'), { status: 200, body: 'OK' }));
    wsl.sockets.set(DAEMON_SOCKET, join(dir, 'docker.sock'));
    const logged: string[] = [];
    const engine = new Engine(wsl, (source, line) => logged.push(`${source}: ${line}`));
    // The agent answers only once its start has ended, as the real one does.
    const agentUp = async () => {
      servers.push(await serve(join(dir, 'agent.sock'), { status: 200, body: JSON.stringify(agentStatus) }));
      wsl.sockets.set(AGENT_SOCKET, join(dir, 'agent.sock'));
    };
    return { wsl, engine, logged, agentUp };
  }

  it('fires onNamespace at the line, before the agent ends, and collects its warnings', async () => {
    const { wsl, engine, logged, agentUp } = await world();
    const events: string[] = [];
    wsl.onExec = acting(async (p) => {
      if (p.argv[0] !== AGENT_COMMAND) return; // the attached shell stays
      if ((await told(p)) !== 'go') return p.end(0);
      p.stdout.write(`${ENGINE_NETNS_LINE}\n`);
      p.stderr.write(`${AGENT_WARNING}cpus is not enforced here\n`);
      // The agent ends only after the manager has had the line.
      setTimeout(() => {
        events.push('agent ended');
        void agentUp().then(() => p.end(0));
      }, 20);
    });
    const warnings = await engine.start(
      5000,
      () => {},
      {},
      () => events.push('namespace'),
    );
    expect(events).toEqual(['namespace', 'agent ended']);
    expect(warnings).toEqual(['cpus is not enforced here']);
    expect(logged).toContain(`agent: ${ENGINE_NETNS_LINE}`);
  });

  it('says what the agent said on stderr when its start fails, and never fires onNamespace for other lines', async () => {
    const { wsl, engine } = await world();
    let fired = 0;
    wsl.onExec = acting(async (p) => {
      await told(p);
      p.stdout.write(`${ENGINE_NETNS_LINE} (not quite)\n`);
      p.stderr.write('berth-agent: the data store /mnt/wsl/berth/data is not there\n');
      p.end(1);
    });
    await expect(
      engine.start(
        5000,
        () => {},
        {},
        () => fired++,
      ),
    ).rejects.toThrow(/berth-agent exit 1\): berth-agent: the data store \/mnt\/wsl\/berth\/data is not there/);
    expect(fired).toBe(0);
  });

  // The agent is launched with --hold as the start begins, so that its Node loads while the
  // manager writes berth-data's files and mounts the store; it is told to go only after both.
  it('launches the agent at once and tells it to go only after the prerequisite and the store mount', async () => {
    const { wsl, engine, agentUp } = await world();
    const order: string[] = [];
    wsl.onRun = (distro, argv) => {
      if (argv.join(' ').includes('mount --bind')) order.push(`mount in ${distro}`);
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    wsl.onExec = acting(async (p) => {
      if (p.argv[0] !== AGENT_COMMAND) return;
      order.push(`launched ${p.argv.slice(1, 4).join(' ')}`);
      order.push(`told ${await told(p)}`);
      await agentUp();
      p.end(0);
    });
    let filesWritten!: () => void;
    const prerequisite = new Promise<void>((r) => (filesWritten = r)).then(() => void order.push('files written'));
    const started = engine.start(5000, () => {}, {}, undefined, prerequisite);
    for (let i = 0; i < 20 && !order.length; i++) await new Promise((r) => setTimeout(r, 5));
    filesWritten();
    await started;
    expect(order).toEqual(['launched start --detach --hold', 'files written', 'mount in berth-data', 'told go']);
    expect(engine.startedAnew).toBe(true);
  });

  it('withdraws the launched agent when the prerequisite fails: its stdin ends with no go, and the start rejects with the cause', async () => {
    const { wsl, engine } = await world();
    const heard: string[] = [];
    wsl.onExec = acting(async (p) => {
      heard.push(await told(p));
      p.end(0);
    });
    await expect(engine.start(5000, () => {}, {}, undefined, Promise.reject(new Error('cannot write daemon.json: disk full')))).rejects.toThrow('cannot write daemon.json: disk full');
    expect(heard).toEqual(['']);
    expect(wsl.processes.map((p) => p.argv[0])).toEqual([AGENT_COMMAND]); // nothing attached
  });

  it('withdraws the launched agent when an engine from an earlier run answers, and attaches to that one', async () => {
    const { wsl, engine, logged, agentUp } = await world();
    await agentUp();
    const heard: string[] = [];
    wsl.onExec = acting(async (p) => {
      if (p.argv[0] !== AGENT_COMMAND) return;
      heard.push(await told(p));
      p.end(0);
    });
    await engine.start(5000, () => {}, {});
    expect(heard).toEqual(['']);
    expect(logged).toContain('manager: the engine from an earlier run is still up; attaching to it');
    expect(wsl.processes.map((p) => p.argv[0])).toEqual([AGENT_COMMAND, 'sh']);
    expect(engine.startedAnew).toBe(false); // its rules are what its backend left: ports apply them anew
  });
});
