import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { REPO } from '../helpers/wsl-root.js';

// The agent's bundle (npm run build) as the berth distro runs it, for what needs no distro:
// a wrong command line is answered with the usage, exit code 2, and no stack.
const AGENT = join(REPO, 'dist/agent/berth-agent.mjs');

describe('berth-agent on a wrong command line', () => {
  it.each([
    [['logread', '--help'], "berth-agent logread: Unknown option '--help'."],
    [['start', '--data'], "berth-agent start: Option '--data <value>' argument missing."],
    [['frobnicate'], 'usage: berth-agent <command>'],
  ])('%j', async (args, said) => {
    const r = await execa('node', [AGENT, ...args], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(said);
    expect(r.stderr).toContain('usage: berth-agent <command>');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
