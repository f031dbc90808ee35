import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { until } from './wsl-root.js';

/** A free port on the loopback (the kernel's pick; free again once we close it). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A test CA (openssl) and a server certificate it signs for `name`. */
export async function makeTestCa(dir: string, name: string): Promise<{ caCert: string; cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const openssl = (args: string[]) => execa('openssl', args, { cwd: dir });
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Berth Test CA', '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', p('server.key'), '-out', p('server.csr')]);
  writeFileSync(p('san.ext'), `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\n`);
  await openssl(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p('san.ext'), '-out', p('server.crt')]);
  return { caCert: p('ca.crt'), cert: p('server.crt'), key: p('server.key') };
}

export interface Service {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

async function started(child: ChildProcess, port: number, what: string): Promise<void> {
  const listening = async () => (await execa('ss', ['-Hltn', `sport = :${port}`], { reject: false })).stdout.includes(`:${port}`);
  if (!(await until(async () => child.exitCode !== null || (await listening()), 10_000, 50)) || child.exitCode !== null) {
    throw new Error(`${what} did not start on 127.0.0.1:${port} (exit ${child.exitCode})`);
  }
}

const stopper = (child: ChildProcess) => async () => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
};

/** Debian's docker-registry on the loopback, over TLS with `tls`; with `login`, only for that user (htpasswd, bcrypt). */
export async function startRegistry(dir: string, tls: { cert: string; key: string }, login?: { user: string; password: string }): Promise<Service> {
  const port = await freePort();
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'registry.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: info }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} } }`,
      `http: { addr: "127.0.0.1:${port}", tls: { certificate: ${tls.cert}, key: ${tls.key} } }`,
      ...(login ? [`auth: { htpasswd: { realm: berth-test, path: ${join(dir, 'htpasswd')} } }`] : []),
      '',
    ].join('\n'),
  );
  if (login) writeFileSync(join(dir, 'htpasswd'), (await execa('htpasswd', ['-Bbn', login.user, login.password])).stdout);
  let out = '';
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await started(child, port, 'docker-registry');
  return { port, log: () => out, stop: stopper(child) };
}

/** Debian's tinyproxy on the loopback, run through `prefix` (to resolve names as that world does); with `basicAuth`, it answers 407 without them. */
export async function startTinyproxy(dir: string, name: string, prefix: string[] = [], basicAuth?: { user: string; password: string }): Promise<Service> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `${name}.log`);
  writeFileSync(logFile, '');
  const config = join(dir, `${name}.conf`);
  // No ConnectPort line: CONNECT to any port (a registry's), as a corporate proxy allows.
  const auth = basicAuth ? [`BasicAuth ${basicAuth.user} ${basicAuth.password}`] : [];
  writeFileSync(config, [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', `LogFile "${logFile}"`, 'LogLevel Connect', 'MaxClients 20', ...auth, ''].join('\n'));
  const [head, ...rest] = [...prefix, 'tinyproxy', '-d', '-c', config];
  const child = spawn(head, rest, { stdio: 'ignore' });
  await started(child, port, `tinyproxy ${name}`);
  return { port, log: () => readFileSync(logFile, 'utf8'), stop: stopper(child) };
}
