import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { fetchText } from '../../common/http-client.js';
import { SerialQueue } from '../../common/serial-queue.js';

/**
 * A PAC file is code from the network: it runs in QuickJS compiled to WebAssembly (no Node
 * API reaches it; pac-resolver gives it only the PAC functions), with a memory cap, and
 * each call is interrupted after CALL_LIMIT_MS of running.
 */
const MEMORY_LIMIT_BYTES = 32 << 20;
const CALL_LIMIT_MS = 1000;
/** A proxy named by the PAC is tried with a connection before it is used: lists fall back. */
const PROBE_TIMEOUT_MS = 1500;
const REACHABILITY_TTL_MS = 30_000;
/** A host's answer is kept this long (browsers keep it per host too). */
const ANSWER_TTL_MS = 60_000;

/** What FindProxyForURL answered, as upstream URLs in order: `http://h:p`, `https://h:p`, or `DIRECT`. */
export function parsePacAnswer(answer: string): string[] {
  const out: string[] = [];
  for (const part of answer.split(';')) {
    const [kind, where] = part.trim().split(/\s+/);
    const k = kind?.toUpperCase();
    if (k === 'DIRECT') out.push('DIRECT');
    else if ((k === 'PROXY' || k === 'HTTP') && where) out.push(`http://${where}`);
    else if (k === 'HTTPS' && where) out.push(`https://${where}`);
    // SOCKS entries are skipped: the internal proxy speaks HTTP to its upstream.
  }
  return out.length ? out : ['DIRECT'];
}

export interface CompiledPac {
  /** The upstreams FindProxyForURL names for `url`, in order. */
  find(url: string, host: string): Promise<string[]>;
  dispose(): void;
}

/**
 * The PAC engine (pac-resolver's JavaScript parser and QuickJS) is loaded when a PAC is first
 * compiled: most machines have none, and loaded at start it held ~4 MiB of the always-running
 * backend's anonymous memory.
 */
const loadPacEngine = () => Promise.all([import('pac-resolver'), import('quickjs-wasi')]);
let pacEngine: ReturnType<typeof loadPacEngine> | undefined;

let wasm: Promise<WebAssembly.Module> | undefined;
function quickjsModule(): Promise<WebAssembly.Module> {
  // Resolved from wherever this file (or its bundle) sits, as require() would find the package.
  wasm ??= readFile(createRequire(import.meta.url).resolve('quickjs-wasi/quickjs.wasm')).then((bytes) => WebAssembly.compile(bytes));
  return wasm;
}

/** Compiles a PAC file's text; throws, naming `source`, when it does not parse or has no FindProxyForURL. */
export async function compilePac(text: string, source: string): Promise<CompiledPac> {
  const [{ createPacResolver }, { QuickJS }] = await (pacEngine ??= loadPacEngine());
  let deadline = Number.POSITIVE_INFINITY;
  const vm = await QuickJS.create({ wasm: await quickjsModule(), memoryLimit: MEMORY_LIMIT_BYTES, interruptHandler: () => Date.now() > deadline });
  let find: ReturnType<typeof createPacResolver>;
  try {
    deadline = Date.now() + CALL_LIMIT_MS;
    find = createPacResolver(vm, text, { filename: source });
  } catch (e) {
    vm.dispose();
    throw new Error(`${source} is not a PAC file Berth can run (${(e as Error).message})`, { cause: e });
  } finally {
    deadline = Number.POSITIVE_INFINITY;
  }
  // One call at a time: the deadline belongs to the call that runs.
  const queue = new SerialQueue();
  return {
    find(url, host) {
      return queue.run(async () => {
        deadline = Date.now() + CALL_LIMIT_MS;
        try {
          return parsePacAnswer(String(await find(url, host)));
        } finally {
          deadline = Number.POSITIVE_INFINITY;
        }
      });
    },
    dispose: () => vm.dispose(),
  };
}

/** A TCP connection to host:port within PROBE_TIMEOUT_MS. */
export function reachable(hostPort: string): Promise<boolean> {
  const u = new URL(`http://${hostPort}`);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface PacRouterOptions {
  url: string;
  /** The CAs to check an https:// PAC server against (the host's bundle). */
  ca: () => Promise<string | undefined>;
  refreshMs: number;
  log: (line: string) => void;
  /** A line for status (undefined: all well), naming the URL and what to do. */
  problem: (text: string | undefined) => void;
  /** Overridable for tests. */
  isReachable?: (hostPort: string) => Promise<boolean>;
}

/**
 * One PAC URL, fetched now and every `refreshMs` (a changed file takes effect with no
 * restart). One that cannot be fetched or does not run is a problem line; the last good one
 * stays in use (before any, requests go direct, as Windows does without its PAC).
 */
export class PacRouter {
  private pac: CompiledPac | undefined;
  private text: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private readonly answers = new Map<string, { at: number; upstreams: string[] }>();
  private readonly reachability = new Map<string, { at: number; ok: Promise<boolean> }>();

  constructor(private readonly o: PacRouterOptions) {}

  get url(): string {
    return this.o.url;
  }

  start(): Promise<void> {
    this.timer ??= setInterval(() => void this.load(), this.o.refreshMs).unref();
    return this.load();
  }

  /** Fetches and compiles the file again (one load at a time). */
  load(): Promise<void> {
    this.loading ??= this.fetchAndCompile().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async fetchAndCompile(): Promise<void> {
    let text: string;
    try {
      const url = new URL(this.o.url);
      text = url.protocol === 'file:' ? await readFile(fileURLToPath(url), 'utf8') : await fetchText(url, { ca: await this.o.ca() });
    } catch (e) {
      return this.failed(`cannot fetch the PAC file ${this.o.url} (${(e as Error).message})`);
    }
    if (text === this.text && this.pac) return;
    try {
      const pac = await compilePac(text, this.o.url);
      this.pac?.dispose();
      this.pac = pac;
      this.text = text;
      this.answers.clear();
      this.o.problem(undefined);
      this.o.log(`proxy: PAC file ${this.o.url} loaded`);
    } catch (e) {
      this.failed((e as Error).message);
    }
  }

  private failed(why: string): void {
    const keeping = this.pac ? 'the last good one stays in use' : 'requests go direct until it loads';
    this.o.problem(`${why}; ${keeping}. Check the URL with \`berth proxy pac URL\` (http://, https:// or file://).`);
  }

  /**
   * The upstream for a request, or undefined for direct: the first of the PAC's answer that
   * accepts a connection (DIRECT always does); the first proxy named when none does.
   */
  async upstreamFor(url: string, host: string): Promise<string | undefined> {
    const pac = this.pac;
    if (!pac) return undefined;
    const key = `${new URL(url).protocol}//${host}`;
    const cached = this.answers.get(key);
    let upstreams: string[];
    if (cached && Date.now() - cached.at < ANSWER_TTL_MS) upstreams = cached.upstreams;
    else {
      try {
        upstreams = await pac.find(url, host);
      } catch (e) {
        this.o.log(`proxy: the PAC file ${this.o.url} failed for ${host} (${(e as Error).message}); going direct`);
        return undefined;
      }
      this.answers.set(key, { at: Date.now(), upstreams });
    }
    for (const upstream of upstreams) {
      if (upstream === 'DIRECT') return undefined;
      if (await this.isReachable(new URL(upstream).host)) return upstream;
    }
    return upstreams.find((u) => u !== 'DIRECT');
  }

  private isReachable(hostPort: string): Promise<boolean> {
    const known = this.reachability.get(hostPort);
    if (known && Date.now() - known.at < REACHABILITY_TTL_MS) return known.ok;
    const ok = (this.o.isReachable ?? reachable)(hostPort);
    this.reachability.set(hostPort, { at: Date.now(), ok });
    return ok;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.pac?.dispose();
    this.pac = undefined;
    this.text = undefined;
  }
}
