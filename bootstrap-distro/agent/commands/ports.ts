import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { listenPublishedPort, type ForwarderLink } from '../../../common/port-forward/forward.js';
import { parseLine, portHelperCommandSchema, portHelperReplySchema, type PortHelperReply } from '../../../common/port-forward/helper-messages.js';
import { sharedPath } from '../../../common/shared-area.js';
import { TargetSlot } from '../../../common/port-forward/target-slot.js';
import { logUnhandled } from '../../../common/unhandled.js';
import { settleAsDaemon } from '../../../common/settle-daemon.js';

/**
 * ports: run by the manager, attached, in the berth distro, which lives in the WSL network
 * namespace every distro shares, once a UDP port is published (TCP ports there are
 * berth-relay's, with no Node: installer/ports-in-wsl.ts). Reads
 * `{"id","op":"open","key","host","port","proto","ip","targetPort"}` and `{"id","op":"close","key"}`
 * lines on stdin; binds there and forwards to the engine. Answers `{"id","key","ok"[,"error"]}` lines.
 */
export async function run(): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  logUnhandled(log, 'berth-agent ports');
  settleAsDaemon();
  const link: ForwarderLink = {
    connectTcp: async () => connect(sharedPath('forwardSocket')),
    connectUdp: async () => connect(sharedPath('forwardUdpSocket')),
  };
  // A port is bound at claim time (before the container runs), its target set once known.
  const open = new Map<string, { server?: { close(): void }; target: TargetSlot }>();
  const reply = (r: PortHelperReply) => process.stdout.write(`${JSON.stringify(portHelperReplySchema.parse(r))}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const parsed = parseLine(portHelperCommandSchema, line);
    if ('error' in parsed) {
      log(`berth-agent ports: ignored a malformed command: ${parsed.error}`);
      const id = /"id"\s*:\s*(\d+)/.exec(line)?.[1];
      if (id) reply({ id: Number(id), ok: false, error: `malformed command: ${parsed.error}` });
      continue;
    }
    const cmd = parsed.value;
    if (cmd.op === 'close') {
      const closing = open.get(cmd.key);
      closing?.server?.close();
      closing?.target.close();
      open.delete(cmd.key);
      reply({ id: cmd.id, key: cmd.key, ok: true });
      continue;
    }
    const entry = open.get(cmd.key) ?? { target: new TargetSlot() };
    if (cmd.ip && cmd.targetPort) entry.target.set({ ip: cmd.ip, port: cmd.targetPort });
    if (entry.server) {
      reply({ id: cmd.id, key: cmd.key, ok: true });
      continue;
    }
    await listenPublishedPort({ host: cmd.host, port: cmd.port, proto: cmd.proto }, entry.target, link).then(
      (server) => {
        entry.server = server;
        open.set(cmd.key, entry);
        reply({ id: cmd.id, key: cmd.key, ok: true });
      },
      (e: NodeJS.ErrnoException) => reply({ id: cmd.id, key: cmd.key, ok: false, error: e.code ?? e.message }),
    );
  }
  for (const e of open.values()) e.server?.close();
  return 0;
}
