import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { STASHED_EXTRA_CA_CERTS, withExtraCaCertsRestored } from '../../common/extra-ca-env.js';
import { REPO } from '../helpers/wsl-root.js';

const BERTH = join(REPO, 'bin/berth');
// Node warns at its start about an extra CA file it cannot read: a sign that it read it.
const NODE_READ_IT = /Ignoring extra certs from/;

describe("NODE_EXTRA_CA_CERTS and the CLI's start", () => {
  it('is not read by the CLI, started as a command (its shebang), but is when node is run by hand', async () => {
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(REPO, 'no-such-bundle.pem') };
    const asCommand = await execa(BERTH, ['--help'], { env, reject: false });
    expect(asCommand.stdout).toMatch(/Usage: berth/);
    expect(asCommand.stderr).not.toMatch(NODE_READ_IT);
    const byHand = await execa(process.execPath, [BERTH, '--help'], { env, reject: false });
    expect(byHand.stderr).toMatch(NODE_READ_IT);
  });

  it('is given back to what the CLI starts, as the user had it', () => {
    expect(withExtraCaCertsRestored({ PATH: '/bin', [STASHED_EXTRA_CA_CERTS]: '/etc/corp ca.pem' })).toEqual({ PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/corp ca.pem' });
    expect(withExtraCaCertsRestored({ PATH: '/bin', [STASHED_EXTRA_CA_CERTS]: '' })).toEqual({ PATH: '/bin' });
    // Run as `node bin/berth`: nothing stashed, nothing changed.
    const byHand = { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/corp.pem' };
    expect(withExtraCaCertsRestored(byHand)).toBe(byHand);
  });
});
