import * as z from './zod.js';
import { Backoff } from './backoff.js';
import { httpJson, httpRequest, openRequest, type HttpTarget } from './http-client.js';

/**
 * The few Engine API answers Berth reads itself (the proxy passes everything else through
 * untouched), each with the fields Berth uses; unknown fields pass.
 */
const portSchema = z.object({ IP: z.string().optional(), PrivatePort: z.number(), PublicPort: z.number().optional(), Type: z.string() });
const networksSchema = z.record(z.string(), z.object({ IPAddress: z.string().optional(), GlobalIPv6Address: z.string().optional() })).nullish();
export const containerSummarySchema = z.object({
  Id: z.string(),
  Ports: z.array(portSchema).nullish(),
  NetworkSettings: z.object({ Networks: networksSchema }).nullish(),
});
export type ContainerSummary = z.infer<typeof containerSummarySchema>;

const portBindingSchema = z.object({ HostIp: z.string().optional(), HostPort: z.string().optional() });
const containerInspectSchema = z.object({
  HostConfig: z.object({ PortBindings: z.record(z.string(), z.array(portBindingSchema).nullable()).nullish() }).nullish(),
});

export const dockerEventSchema = z.object({
  Type: z.string().optional(),
  Action: z.string().optional(),
  id: z.string().optional(),
  Actor: z.object({ ID: z.string().optional() }).optional(),
  /** When it happened, in seconds, on the daemon's clock. */
  time: z.number().int().nonnegative().optional(),
});
export type DockerEvent = z.infer<typeof dockerEventSchema>;

/** GET /_ping: true when the engine answers OK. */
export async function dockerPing(daemon: HttpTarget, timeoutMs = 2000): Promise<boolean> {
  const r = await httpRequest(daemon, { path: '/_ping', timeoutMs }).catch(() => undefined);
  return r?.status === 200 && r.body === 'OK';
}

/** The running containers. */
export function listContainers(daemon: HttpTarget): Promise<ContainerSummary[]> {
  return httpJson(daemon, { path: '/containers/json' }, z.array(containerSummarySchema));
}

/** A container's requested port bindings (HostConfig.PortBindings); undefined if there is no such container. */
export async function portBindings(daemon: HttpTarget, id: string): Promise<Record<string, Array<z.infer<typeof portBindingSchema>> | null> | undefined> {
  const r = await httpRequest(daemon, { path: `/containers/${encodeURIComponent(id)}/json` });
  if (r.status !== 200) return undefined;
  return containerInspectSchema.parse(JSON.parse(r.body)).HostConfig?.PortBindings ?? {};
}

export interface EventFollower {
  stop(): void;
}

/**
 * Follows GET /events (filtered), calling `onEvent` for each event line and `onConnected`
 * each time the stream is (re)opened. The stream is opened again after the daemon
 * restarts, with Berth's one backoff, and asks for the events since where it was (`since`
 * on the daemon's clock: the last event's second, else the Date of the first answer), so an
 * event during the gap (dockerd back before the next try) is still seen: the daemon keeps
 * its recent events. Events of the last seen second may come twice; handlers are idempotent.
 */
export function followEvents(daemon: HttpTarget, filters: Record<string, string[]>, handlers: { onEvent: (e: DockerEvent) => void; onConnected?: () => void; onError?: (why: string) => void }): EventFollower {
  let stopped = false;
  let current: { destroy(): void } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const backoff = new Backoff(Backoff.RECONNECT);
  /** The daemon's time to resume from, in seconds; undefined until the stream has been open. */
  let resumeFrom: number | undefined;
  const again = (why: string) => {
    current = undefined;
    if (stopped) return;
    handlers.onError?.(why);
    timer = setTimeout(open, backoff.next());
  };
  const open = () => {
    const path = `/events?filters=${encodeURIComponent(JSON.stringify(filters))}${resumeFrom === undefined ? '' : `&since=${resumeFrom}`}`;
    openRequest(daemon, { path }).then(
      (res) => {
        if (stopped) return void res.destroy();
        if (res.statusCode !== 200) return (res.resume(), again(`GET /events answered ${res.statusCode}`));
        current = res;
        backoff.succeeded();
        const answeredAt = Date.parse(res.headers.date ?? '');
        if (resumeFrom === undefined && !Number.isNaN(answeredAt)) resumeFrom = Math.floor(answeredAt / 1000);
        handlers.onConnected?.();
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buffered += d;
          for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            const event = parseEventLine(line);
            if (event?.time !== undefined) resumeFrom = Math.max(resumeFrom ?? 0, event.time);
            if (event) handlers.onEvent(event);
          }
        });
        res.on('close', () => again('the event stream ended'));
        res.on('error', () => undefined); // 'close' follows
      },
      (e: Error) => again(e.message),
    );
  };
  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      current?.destroy();
    },
  };
}

/** One line of the event stream; undefined for a blank or foreign line. */
export function parseEventLine(line: string): DockerEvent | undefined {
  if (!line.trim()) return undefined;
  try {
    const checked = dockerEventSchema.safeParse(JSON.parse(line));
    return checked.success ? checked.data : undefined;
  } catch {
    return undefined;
  }
}
