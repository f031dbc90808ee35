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
    wsl.onExec = (p: FakeProcess) => {
      if (p.argv[0] !== AGENT_COMMAND) return; // the attached shell stays
      p.stdout.write(`${ENGINE_NETNS_LINE}\n`);
      p.stderr.write(`${AGENT_WARNING}cpus is not enforced here\n`);
      // The agent ends only after the manager has had the line.
      setTimeout(() => {
        events.push('agent ended');
        void agentUp().then(() => p.end(0));
      }, 20);
    };
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
    wsl.onExec = (p: FakeProcess) => {
      p.stdout.write(`${ENGINE_NETNS_LINE} (not quite)\n`);
      p.stderr.write('berth-agent: the data store /mnt/wsl/berth/data is not there\n');
      p.end(1);
    };
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
});
