import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { agentLauncher, DAEMON_NODE_FLAGS } from '../../common/node-flags.js';

// The berth distro's berth-agent launcher, run with a stand-in for node that prints what it got.
describe('the berth-agent launcher', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-launcher-'));
  const node = join(dir, 'node');
  writeFileSync(node, '#!/bin/sh\nprintf "%s|" "$MALLOC_MMAP_THRESHOLD_" "$@"\n');
  chmodSync(node, 0o755);
  const launcher = join(dir, 'berth-agent');
  writeFileSync(launcher, agentLauncher(node, '/opt/berth/app/berth-agent.mjs'));
  chmodSync(launcher, 0o755);
  const launch = async (...args: string[]) => (await execa(launcher, args)).stdout.split('|').slice(0, -1);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the resident commands with the daemon flags, and a start, a stop or a status without them', async () => {
    expect(await launch('supervise', '--data', '/x')).toEqual(['32768', ...DAEMON_NODE_FLAGS, '/opt/berth/app/berth-agent.mjs', 'supervise', '--data', '/x']);
    expect(await launch('ports')).toEqual(['32768', ...DAEMON_NODE_FLAGS, '/opt/berth/app/berth-agent.mjs', 'ports']);
    expect(await launch('start', '--detach', '--timeout', '60')).toEqual(['32768', '/opt/berth/app/berth-agent.mjs', 'start', '--detach', '--timeout', '60']);
    expect(await launch('status', '--json')).toEqual(['32768', '/opt/berth/app/berth-agent.mjs', 'status', '--json']);
    expect(await launch('stop')).toEqual(['32768', '/opt/berth/app/berth-agent.mjs', 'stop']);
  });

  it('passes an argument with spaces or quotes as one word', async () => {
    expect(await launch('shell', 'sh', '-c', 'echo "a b"; exit')).toEqual(['32768', ...DAEMON_NODE_FLAGS, '/opt/berth/app/berth-agent.mjs', 'shell', 'sh', '-c', 'echo "a b"; exit']);
  });
});
