import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIALS_ROUTE } from '../../common/credential-messages.js';
import { CredentialStore } from '../../installer/credentials.js';
import { credentialRoute } from '../../wsl-proxy/credential-route.js';
import { stopUsingBerthCredsStore, useBerthCredsStore, withBerthCredsStore, withoutBerthCredsStore } from '../../wsl-proxy/docker-config.js';
import { REPO } from '../helpers/wsl-root.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-credentials-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the user's docker config and Berth's credsStore", () => {
  it('adds credsStore "berth" to a config without a store of its own, and leaves any other alone', () => {
    expect(JSON.parse(withBerthCredsStore(undefined)!)).toEqual({ credsStore: 'berth' });
    expect(JSON.parse(withBerthCredsStore('{"auths": {"r.example": {}}, "detachKeys": "ctrl-x"}')!)).toEqual({ auths: { 'r.example': {} }, detachKeys: 'ctrl-x', credsStore: 'berth' });
    expect(withBerthCredsStore('{"credsStore": "pass"}')).toBeUndefined();
    expect(withBerthCredsStore('{"credHelpers": {"gcr.io": "gcloud"}}')).toBeUndefined();
    expect(withBerthCredsStore('{not json')).toBeUndefined();
    expect(withBerthCredsStore('[]')).toBeUndefined();
    expect(JSON.parse(withoutBerthCredsStore('{"credsStore": "berth", "auths": {"a": {}}}')!)).toEqual({ auths: { a: {} } });
    expect(withoutBerthCredsStore('{"credsStore": "pass"}')).toBeUndefined();
  });

  it('merges into the file (0600, a backup beside it) and takes it out again on --off', async () => {
    const uid = process.getuid!();
    const gid = process.getgid!();
    const home = join(dir, 'home-with-config');
    mkdirSync(join(home, '.docker'), { recursive: true });
    const file = join(home, '.docker/config.json');
    writeFileSync(file, '{"auths": {"r.example": {"auth": "kept"}}}');
    const said: string[] = [];
    await useBerthCredsStore({ name: 'me', uid, gid, home }, (l) => said.push(l));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ auths: { 'r.example': { auth: 'kept' } }, credsStore: 'berth' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${file}.before-berth`, 'utf8')).toBe('{"auths": {"r.example": {"auth": "kept"}}}');
    expect(said.join('\n')).toContain('docker logins now go to Berth');
    // Twice is the same as once.
    await useBerthCredsStore({ name: 'me', uid, gid, home }, (l) => said.push(l));
    expect(said).toHaveLength(1);
    await stopUsingBerthCredsStore({ home, uid, gid });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ auths: { 'r.example': { auth: 'kept' } } });
    expect(existsSync(`${file}.before-berth`)).toBe(false);
    // A file Berth made goes away with the integration.
    const fresh = join(dir, 'home-without');
    mkdirSync(fresh);
    await useBerthCredsStore({ name: 'me', uid, gid, home: fresh }, () => {});
    expect(statSync(join(fresh, '.docker')).mode & 0o777).toBe(0o700);
    await stopUsingBerthCredsStore({ home: fresh, uid, gid });
    expect(existsSync(join(fresh, '.docker/config.json'))).toBe(false);
  });

  it('never writes through a symlink (Berth writes as root)', async () => {
    const home = join(dir, 'home-with-link');
    mkdirSync(join(home, '.docker'), { recursive: true });
    const elsewhere = join(dir, 'not-the-users.json');
    writeFileSync(elsewhere, '{"keep": true}');
    symlinkSync(elsewhere, join(home, '.docker/config.json'));
    const said: string[] = [];
    await useBerthCredsStore({ name: 'me', uid: process.getuid!(), gid: process.getgid!(), home }, (l) => said.push(l));
    expect(readFileSync(elsewhere, 'utf8')).toBe('{"keep": true}');
    expect(said.join('\n')).toContain("not a file of the user's own (a symlink?)");
  });
});

describe("Berth's credential store and docker-credential-berth", () => {
  const storeFile = join(dir, 'store/credentials.json');
  const socket = join(dir, 'docker.sock');
  let server: Server;
  const helper = (op: string, input = '') => execa('node', [join(REPO, 'dist/agent/docker-credential-berth.mjs'), op], { input, reject: false, env: { BERTH_CREDENTIALS_SOCKET: socket } });

  // dist/agent/docker-credential-berth.mjs is built by `npm test` (npm run build) before any test.
  beforeAll(async () => {
    const store = new CredentialStore(storeFile, () => {});
    const route = credentialRoute((r) => store.handle(r));
    // The route as a distro's proxy serves it on /var/run/docker.sock.
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        if (req.url !== CREDENTIALS_ROUTE) return res.writeHead(404).end('{}');
        void route(JSON.parse(Buffer.concat(chunks).toString() || 'null')).then((a) => res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body)));
      });
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  afterAll(() => server?.close());

  it("speaks Docker's credential-helper protocol: not found, store, get, list, erase", async () => {
    const missing = await helper('get', 'registry.example:5000\n');
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toBe('credentials not found in native keychain');
    expect((await helper('store', JSON.stringify({ ServerURL: 'registry.example:5000', Username: 'alice', Secret: 's3cret' }))).exitCode).toBe(0);
    expect(statSync(storeFile).mode & 0o777).toBe(0o600);
    const got = await helper('get', 'registry.example:5000');
    expect(got.exitCode, got.stdout).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual({ ServerURL: 'registry.example:5000', Username: 'alice', Secret: 's3cret' });
    expect(JSON.parse((await helper('list')).stdout)).toEqual({ 'registry.example:5000': 'alice' });
    expect((await helper('erase', 'registry.example:5000')).exitCode).toBe(0);
    expect((await helper('get', 'registry.example:5000')).exitCode).toBe(1);
  }, 30_000);

  it('keeps both of two logins made at once, and refuses a malformed request naming the field', async () => {
    await Promise.all([helper('store', JSON.stringify({ ServerURL: 'a.example', Username: 'a', Secret: '1' })), helper('store', JSON.stringify({ ServerURL: 'b.example', Username: 'b', Secret: '2' }))]);
    expect(JSON.parse((await helper('list')).stdout)).toEqual({ 'a.example': 'a', 'b.example': 'b' });
    const route = credentialRoute(async () => ({}));
    expect(await route({ op: 'store', ServerURL: '', Username: 'x', Secret: 'y' })).toEqual({ status: 400, body: { message: expect.stringContaining('malformed credential request at "ServerURL"') } });
    expect(await route({ op: 'steal' })).toMatchObject({ status: 400 });
    const down = credentialRoute(async () => Promise.reject(new Error('connect ENOENT /mnt/wsl/berth/credentials.sock')));
    expect(await down({ op: 'list' })).toEqual({ status: 502, body: { message: "Berth: cannot reach Berth's credential store (connect ENOENT /mnt/wsl/berth/credentials.sock); is Berth running? `berth status`" } });
    const usage = await helper('frobnicate');
    expect(usage.exitCode).toBe(1);
    expect(usage.stdout).toContain('usage: docker-credential-berth store|get|erase|list');
  }, 30_000);
});
