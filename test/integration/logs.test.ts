import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImages } from '../../installer/images/build.js';
import { agent, installBerthDistros } from '../helpers/berth-distros.js';
import { worldProcesses } from '../helpers/world.js';
import { TestBerth } from '../helpers/berth-manager.js';
import { BERTH_WSL, requireRoot, TestWslRoot, until } from '../helpers/wsl-root.js';
import { spawn } from 'node:child_process';

const run = requireRoot('logs and diagnostics');

/** The RSS bound stated for the log daemon's process (the supervisor) with a full ring. */
const RSS_BOUND_MIB = 150;

describe.runIf(run)('the log daemon in the LinuxKit root', () => {
  let t: TestWslRoot;
  const logread = async (...args: string[]) => (await agent(t, ['logread', ...args])).stdout.split('\n').filter(Boolean);
  const store = () => join(t.root, 'distros/berth-data/rootfs/srv/berth-data/log');

  beforeAll(async () => {
    t = new TestWslRoot();
    await installBerthDistros(t);
    // Start once so the stock YAML is in the image cache, then add our own entries to it.
    expect((await agent(t, ['start', '--detach'])).exitCode).toBe(0);
    await agent(t, ['stop']);
    const stock = (await t.wsl(['-d', 'berth', '--exec', 'sh', '-c', 'cat /var/cache/berth/images/*/etc/berth/linuxkit.yml'])).stdout;
    const yml = stock.replace('onboot:\n', 'onboot:\n  - name: hello\n    command: ["/bin/sh", "-c", "echo one; echo two >&2; echo three"]\n').replace(
      'services:\n',
      [
        'services:',
        '  - name: ticker',
        '    command: ["/bin/sh", "-c", "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done"]',
        '  - name: spam',
        // Late, so that the first test still finds the onboot lines in the ring.
        '    command: ["/bin/sh", "-c", "sleep 10; seq 1000000; echo PASSWORD=hunter2; sleep 100000"]',
        '',
      ].join('\n'),
    );
    writeFileSync(join(t.root, 'distros/berth/rootfs/root/logs.yml'), yml);
    const started = await agent(t, ['start', '--detach', '--config', '/root/logs.yml', '--log-file-bytes', '65536', '--log-files', '3']);
    expect(started.exitCode, started.stderr).toBe(0);
  }, 240_000);
  afterAll(async () => {
    await agent(t, ['stop']);
    await t?.cleanup();
  });

  it('tags onboot and service lines with time and source (stdout as name.out), in order', async () => {
    const lines = await logread('hello', 'ticker');
    const hello = lines.filter((l) => /,hello(\.out)?;/.test(l));
    expect(hello.map((l) => l.slice(l.indexOf(',') + 1))).toEqual(expect.arrayContaining(['hello.out;one', 'hello;two', 'hello.out;three']));
    const out = hello.filter((l) => l.includes('hello.out;')).map((l) => l.split(';')[1]);
    expect(out).toEqual(['one', 'three']);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,[a-z.]+;/);
    const ticks = lines.filter((l) => l.includes(',ticker.out;')).map((l) => Number(l.split(';tick')[1]));
    expect(ticks.length).toBeGreaterThan(0);
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
    expect(lines.some((l) => l.includes(',agent;'))).toBe(false); // filtered by source
    expect((await logread('agent')).some((l) => /,agent;.*(onboot|stopping|engine ready)/.test(l))).toBe(true);
  });

  it('keeps the newest lines of a service that spams a million, within its memory bound', async () => {
    expect(await until(async () => (await logread('spam')).at(-1)?.endsWith(';PASSWORD=hunter2') === true, 120_000, 1000)).toBe(true);
    const spam = (await logread('spam')).map((l) => l.split(';')[1]!);
    expect(spam.slice(-3)).toEqual(['999999', '1000000', 'PASSWORD=hunter2']);
    const numbers = spam.slice(0, -1).map(Number);
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i)); // a contiguous run up to the end
    expect((await logread()).length).toBeLessThanOrEqual(5000);
    const [pid] = worldProcesses(t.root, (c) => c.includes('berth-agent.mjs supervise'));
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    expect(rssKiB / 1024).toBeLessThan(RSS_BOUND_MIB);
  }, 180_000);

  it('follows live, and one blocked reader does not stop the others', async () => {
    const socketPath = join(t.root, 'run/wsl/berth/log.sock');
    const blocked = connect(socketPath);
    blocked.on('connect', () => {
      blocked.write(Buffer.from([2]));
      blocked.pause(); // never reads
    });
    const live = agent(t, ['shell', 'true']); // a call that must still be answered meanwhile
    expect((await live).exitCode).toBe(0);
    const reader = spawn(BERTH_WSL, ['-d', 'berth', '--exec', '/opt/berth/bin/berth-agent', 'logread', '-F', 'ticker'], { env: { ...process.env, ...t.env } });
    let got = '';
    reader.stdout.on('data', (d: Buffer) => (got += d.toString()));
    const ticks = () => got.split('\n').filter((l) => l.includes(',ticker.out;tick'));
    // Three new ticks arrive while the blocked reader still holds its connection (60 s: a hang guard).
    expect(await until(async () => ticks().length >= 3, 60_000)).toBe(true);
    reader.kill('SIGTERM');
    blocked.destroy();
    const numbers = ticks().map((l) => Number(l.slice(l.lastIndexOf('tick') + 4)));
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i)); // live, in order, none lost
    expect((await logread('ticker')).length).toBeGreaterThan(0); // and a dump still answers
  });

  it('writes one rotating file per source on the data store', async () => {
    const files = readdirSync(store()).sort();
    expect(files).toEqual(expect.arrayContaining(['spam.out.log', 'spam.out.log.0', 'spam.out.log.1', 'spam.out.log.2', 'hello.out.log', 'hello.log', 'agent.log', 'dockerd.log']));
    expect(files).not.toContain('spam.out.log.3');
    for (const f of files.filter((x) => x.startsWith('spam.out.log'))) expect(statSync(join(store(), f)).size).toBeLessThanOrEqual(65536);
    expect(readFileSync(join(store(), 'hello.out.log'), 'utf8')).toMatch(/,hello\.out;one\n.*,hello\.out;three\n/);
  });

  it('keeps the persisted files across a restart of the agent', async () => {
    const before = readFileSync(join(store(), 'hello.out.log'), 'utf8');
    await agent(t, ['stop']);
    expect((await agent(t, ['logread'])).exitCode).toBe(3);
    expect((await agent(t, ['start', '--detach', '--config', '/root/logs.yml', '--log-file-bytes', '65536', '--log-files', '3'])).exitCode).toBe(0);
    expect(await until(async () => readFileSync(join(store(), 'hello.out.log'), 'utf8').length > before.length, 10_000)).toBe(true);
    expect(readFileSync(join(store(), 'hello.out.log'), 'utf8').startsWith(before)).toBe(true);
  }, 60_000);
});

describe.runIf(run)('berth logs and berth diagnose', () => {
  let t: TestBerth;
  beforeAll(async () => {
    t = new TestBerth();
    t.env.BERTH_IMAGES = join(t.root, 'images');
    await buildImages(t.env.BERTH_IMAGES);
    expect((await t.berth(['enable'])).exitCode).toBe(0);
  }, 240_000);
  afterAll(async () => t?.cleanup());

  it("prints the engine's and the manager's lines as time,source;msg, by source", async () => {
    const all = (await t.berth(['logs'])).stdout.split('\n');
    expect(all.some((l) => /^\S+Z,dockerd;.*level=info/.test(l))).toBe(true);
    expect(all.some((l) => /,manager;info: engine running/.test(l))).toBe(true);
    const only = (await t.berth(['logs', 'containerd'])).stdout.split('\n').filter(Boolean);
    expect(only.length).toBeGreaterThan(0);
    for (const l of only) expect(l).toMatch(/,containerd;/);
  });

  it('bundles what it claims, with secrets redacted, and prints the path last', async () => {
    mkdirSync(t.env.DOCKER_CONFIG!, { recursive: true });
    writeFileSync(join(t.env.DOCKER_CONFIG!, 'config.json'), JSON.stringify({ auths: { 'registry.example': { auth: 'c2VjcmV0LWF1dGg=' } } }));
    appendFileSync(join(t.env.BERTH_HOME!, 'logs/berth.log'), '2026-01-01T00:00:00.000Z,manager;info: leaked API_TOKEN=planted-secret-123\n');
    const r = await t.berth(['diagnose']);
    expect(r.exitCode).toBe(0);
    const bundle = r.stdout.trim().split('\n').at(-1)!;
    expect(bundle).toMatch(/berth-diagnostics-.*\.tar\.gz$/);
    const listing = (await execa('tar', ['-tzf', bundle])).stdout;
    for (const f of ['status.json', 'distros.json', 'manager/berth.log', 'engine/ring.log', 'engine/agent-status.json', 'engine/info.json', 'berth/mounts.txt', 'versions.txt']) expect(listing).toContain(f);
    expect(listing).toMatch(/engine\/log\/dockerd\.log/);
    const text = (await execa('sh', ['-c', `tar -xzOf ${bundle}`])).stdout;
    expect(text).not.toContain('planted-secret-123');
    expect(text).not.toContain('c2VjcmV0LWF1dGg=');
    expect(text).toContain('API_TOKEN=<redacted>');
    expect(text).toContain('"ServerVersion"');
  }, 60_000);
});
