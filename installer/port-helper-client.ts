import { onJsonLines } from '../common/json-lines.js';
import { portHelperCommandSchema, portHelperReplySchema, type PortHelperCommand } from '../common/port-forward/helper-messages.js';
import type { PublishedListener } from '../common/port-forward/forward-udp.js';
import { portKey, type PortRequest } from '../common/port-forward/claim-messages.js';
import type { ForwardTarget, TargetSlot } from '../common/port-forward/target-slot.js';
import type { WslProcess } from '../wsl-host/host.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Reply = { ok: boolean; error?: string };

/** How long a command waits for the helper's answer. */
const ANSWER_WAIT_MS = 10_000;

/**
 * `berth-agent ports` (Node, in the berth distro), driven over its stdin/stdout with the
 * schema-checked lines of helper-messages.ts. It carries published UDP ports in the WSL
 * network namespace; TCP there needs no Node (berth-relay listen, see ports-in-wsl.ts).
 */
export class PortHelperClient {
  /** Answers awaited, by request id (two requests may name one port). */
  private readonly replies = new Map<number, (r: Reply) => void>();
  private lastRequestId = 0;
  private exited = false;
  private stopping = false;
  private exitHandlers: Array<() => void> = [];

  constructor(
    private readonly helper: WslProcess,
    private readonly log: (line: string) => void,
  ) {
    helper.stdin?.on('error', () => undefined); // it exited: `done` says so
    helper.stderr?.on('data', (d: Buffer) => log(`port helper: ${d.toString().trim()}`));
    if (helper.stdout) {
      onJsonLines(
        helper.stdout,
        portHelperReplySchema,
        (reply) => {
          this.replies.get(reply.id)?.(reply);
          this.replies.delete(reply.id);
        },
        (_line, why) => log(`port helper: ignored a malformed reply: ${why}`),
      );
    }
    const ended = (why: string) => {
      this.exited = true;
      if (!this.stopping) log(`the port helper in the berth distro ${why}`);
      // Whatever it was asked is not going to be answered: say so now, not after the wait.
      for (const answer of this.replies.values()) answer({ ok: false, error: 'the port helper exited' });
      this.replies.clear();
      for (const handler of this.exitHandlers) handler();
    };
    void helper.done.then(
      (r) => ended(`exited (code ${r.exitCode})`),
      (e: Error) => ended(`failed: ${e.message}`),
    );
  }

  private request(cmd: DistributiveOmit<PortHelperCommand, 'id'>): Promise<Reply> {
    return new Promise((resolve) => {
      if (this.exited || !this.helper.stdin) return resolve({ ok: false, error: 'the port helper is not running' });
      const id = ++this.lastRequestId;
      const timer = setTimeout(() => {
        if (this.replies.delete(id)) resolve({ ok: false, error: 'no answer from the port helper' });
      }, ANSWER_WAIT_MS);
      this.replies.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.helper.stdin.write(`${JSON.stringify(portHelperCommandSchema.parse({ ...cmd, id }))}\n`);
    });
  }

  /** Binds the port there; rejects with an error whose `code` is the helper's (EADDRINUSE…). Each new target is passed on. */
  async listen(r: PortRequest, slot: TargetSlot): Promise<PublishedListener> {
    const key = portKey(r);
    const open = (t: ForwardTarget | undefined) => this.request({ op: 'open', key, host: r.host, port: r.port, proto: r.proto, ...(t ? { ip: t.ip, targetPort: t.port } : {}) });
    const bound = await open(slot.get());
    if (!bound.ok) throw Object.assign(new Error(bound.error ?? 'no answer'), { code: bound.error });
    const unwatch = slot.watch(
      (t) =>
        void open(t).then((a) => {
          if (!a.ok) this.log(`port helper: cannot point ${key} at ${t.ip}:${t.port}: ${a.error}`);
        }),
    );
    return {
      close: () => {
        unwatch();
        void this.request({ op: 'close', key });
      },
    };
  }

  /** Called if the helper ends (its listeners are gone with it), not after stop(). */
  onExit(handler: () => void): void {
    this.exitHandlers.push(handler);
  }

  /** Ends the helper (its listeners go with it); resolves once it has exited. */
  async stop(): Promise<void> {
    this.exitHandlers = [];
    this.stopping = true;
    this.helper.stdin?.end();
    this.helper.kill('SIGTERM');
    await this.helper.done.catch(() => undefined);
  }
}
