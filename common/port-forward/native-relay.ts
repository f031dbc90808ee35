import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import * as z from '../zod.js';
import type { PublishedListener } from './forward-udp.js';
import type { TargetCheck } from './published-targets.js';
import type { ForwardTarget, TargetSlot } from './target-slot.js';

/**
 * berth-relay (common/port-forward/berth-relay.c), the native byte mover of published TCP
 * ports, driven over its stdin/stdout. Node keeps every decision (which ports, where they
 * lead, whether a target may be reached); the relay splices the bytes.
 */

/** An answer to a listen/target/close command, in the order the commands were sent. */
const answerLine = z.union([z.object({ ok: z.literal(true), key: z.string() }), z.object({ ok: z.literal(false), key: z.string(), code: z.string().regex(/^E[A-Z]+$/) })]);
type Answer = z.infer<typeof answerLine>;

/** One line of the relay's stdout, checked: anything else is reported and ignored. */
export function parseRelayLine(line: string): Answer | { check: { id: number; ip: string; port: number } } | { ready: string } | undefined {
  let m = /^ok (\S{1,128})$/.exec(line);
  if (m) return answerLine.parse({ ok: true, key: m[1] });
  m = /^error (\S{1,128}) (E[A-Z]+)$/.exec(line);
  if (m) return answerLine.parse({ ok: false, key: m[1], code: m[2] });
  m = /^check (\d{1,10}) ([0-9a-fA-F.:]{2,45}) (\d{1,5})$/.exec(line);
  if (m) return { check: { id: Number(m[1]), ip: m[2]!, port: Number(m[3]) } };
  m = /^ready (\S+)$/.exec(line);
  if (m) return { ready: m[1]! };
  return undefined;
}

const KEY = /^[A-Za-z0-9.:/[\]_-]{1,128}$/;
const IP = /^[0-9a-fA-F.:]{2,45}$/;

/** A command line for the relay, refused here if any part could be read as more than one word. */
export function relayCommand(op: 'listen' | 'target', key: string, address: { ip: string; port: number }): string;
export function relayCommand(op: 'close', key: string): string;
export function relayCommand(op: 'listen' | 'target' | 'close', key: string, address?: { ip: string; port: number }): string {
  if (!KEY.test(key)) throw new Error(`berth-relay: not a port key: ${JSON.stringify(key)}`);
  if (!address) return `${op} ${key}\n`;
  if (!IP.test(address.ip) || !Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
    throw new Error(`berth-relay: not an address: ${JSON.stringify(address)}`);
  }
  return `${op} ${key} ${address.ip} ${address.port}\n`;
}

/** A running berth-relay, wherever it runs: spawned here, or through wsl in the berth distro. */
export interface RelayChild {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly pid: number | undefined;
  /** Settles once it has exited: undefined for a clean exit, else why ("exited (code 1)", "could not run: …"). */
  readonly exited: Promise<string | undefined>;
}

/** berth-relay started here, as a child of this process. */
export function spawnRelay(binary: string, args: string[]): RelayChild {
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined); // it exited: `exited` says so
  const exited = new Promise<string | undefined>((resolve) => {
    child.once('exit', (code, signal) => resolve(code === 0 ? undefined : `exited (${signal ?? `code ${code}`})`));
    // It could not be started at all (no such binary): no 'exit' follows.
    child.once('error', (e) => resolve(`could not run: ${e.message}`));
  });
  return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, pid: child.pid, exited };
}

/** Closes the relay's stdin (it ends then); resolves once it has exited. */
function endChild(child: RelayChild): Promise<void> {
  child.stdin.end();
  return child.exited.then(() => undefined);
}

/**
 * The listening side (the host's loopback, or the WSL network namespace): binds published
 * TCP ports and carries their connections to the forwarder socket. A connection that comes
 * before its port's target is known waits for it, as TargetSlot's do.
 */
export class RelayListeners {
  private readonly answers: Array<(a: Answer) => void> = [];
  private exited = false;
  private exitHandlers: Array<() => void> = [];

  constructor(
    private readonly child: RelayChild,
    private readonly log: (line: string) => void,
  ) {
    createInterface({ input: child.stderr }).on('line', (l) => log(l));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = parseRelayLine(line);
      if (!parsed || !('ok' in parsed)) return log(`berth-relay: ignored an unexpected line: ${line.slice(0, 200)}`);
      this.answers.shift()?.(parsed);
    });
    void child.exited.then((why) => {
      this.exited = true;
      if (why) log(`berth-relay ${why}`);
      // Nothing it was asked will be answered: say so now, not never.
      for (const answer of this.answers.splice(0)) answer({ ok: false, key: '-', code: 'ERELAYEXITED' });
      for (const handler of this.exitHandlers) handler();
    });
  }

  /**
   * berth-relay listen, started here, carrying connections to the forwarder socket at
   * forwarderPath; with `handOver`, passing each connection itself to a forwarder on this
   * kernel instead of relaying its bytes.
   */
  static spawn(binary: string, forwarderPath: string, log: (line: string) => void, handOver = false): RelayListeners {
    return new RelayListeners(spawnRelay(binary, ['listen', handOver ? '--pass-to' : '--forwarder', forwarderPath]), log);
  }

  private ask(line: string): Promise<Answer> {
    if (this.exited) return Promise.resolve({ ok: false, key: '-', code: 'ERELAYEXITED' });
    return new Promise((resolve) => {
      this.answers.push(resolve);
      this.child.stdin.write(line);
    });
  }

  /** Binds host:port; rejects with an error whose `code` is the errno name (EADDRINUSE…). */
  async listen(address: { host: string; port: number }, slot: TargetSlot): Promise<PublishedListener> {
    const key = `${address.host}:${address.port}`;
    const bound = await this.ask(relayCommand('listen', key, { ip: address.host, port: address.port }));
    if (!bound.ok) throw Object.assign(new Error(`cannot bind ${key}: ${bound.code}`), { code: bound.code });
    const tell = (t: ForwardTarget) =>
      void this.ask(relayCommand('target', key, t)).then((a) => {
        if (!a.ok) this.log(`berth-relay: cannot point ${key} at ${t.ip}:${t.port}: ${a.code}`);
      });
    const unwatch = slot.watch(tell);
    const now = slot.get();
    if (now) tell(now);
    return {
      close: () => {
        unwatch();
        void this.ask(relayCommand('close', key));
      },
    };
  }

  /** The relay's process id (the tests count its open descriptors). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Called if the relay ends (its listeners are gone with it), not after stop(). */
  onExit(handler: () => void): void {
    this.exitHandlers.push(handler);
  }

  /** Ends the relay (its listeners and connections go with it); resolves once it has exited. */
  stop(): Promise<void> {
    this.exitHandlers = [];
    return endChild(this.child);
  }
}

/**
 * The engine side: berth-relay listens on the forwarder socket, asks here whether each
 * target may be reached (only a running container's published port), and splices the
 * allowed connections to it. Resolves once the socket is listening.
 */
export function serveNativeForwarder(binary: string, socketPath: string, allowed: TargetCheck, log: (line: string) => void): Promise<{ close(): Promise<void>; pid: number | undefined }> {
  const child = spawnRelay(binary, ['forward', '--socket', socketPath]);
  createInterface({ input: child.stderr }).on('line', (l) => log(l));
  return new Promise((resolve, reject) => {
    void child.exited.then((why) => {
      if (why) log(`berth-relay forward ${why}`);
      // After 'ready' this settles nothing.
      reject(new Error(`berth-relay forward ${why ?? 'exited'} before it listened on ${socketPath}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = parseRelayLine(line);
      if (parsed && 'ready' in parsed) return resolve({ close: () => endChild(child), pid: child.pid });
      if (!parsed || !('check' in parsed)) return log(`berth-relay: ignored an unexpected line: ${line.slice(0, 200)}`);
      const { id, ip, port } = parsed.check;
      allowed('tcp', ip, port).then(
        (ok) => {
          if (!ok) log(`refused to forward to tcp ${ip}:${port}: no running container publishes it`);
          child.stdin.write(`${ok ? 'allow' : 'deny'} ${id}\n`);
        },
        (e: Error) => {
          log(`refused to forward to tcp ${ip}:${port}: cannot check the published ports (${e.message})`);
          child.stdin.write(`deny ${id}\n`);
        },
      );
    });
  });
}
