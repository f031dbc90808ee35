import { connect } from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import type { DistroInfo, ExecOptions, ExecResult, WslHost, WslProcess } from '../../wsl-host/host.js';

/** A process of the fake WSL: streams the test drives, and `end(code)` to finish it. */
export class FakeProcess implements WslProcess {
  readonly pid = 4242;
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly killed: string[] = [];
  private finish!: (r: ExecResult) => void;
  readonly done = new Promise<ExecResult>((resolve) => (this.finish = resolve));

  constructor(readonly argv: string[]) {}

  /** Lines the code under test wrote to the process's stdin, so far. */
  input(): string[] {
    const chunks: string[] = [];
    for (let c = this.stdin.read() as Buffer | null; c; c = this.stdin.read() as Buffer | null) chunks.push(c.toString());
    return chunks.join('').split('\n').filter(Boolean);
  }

  end(exitCode: number): void {
    this.stdout.end();
    this.stderr.end();
    this.finish({ exitCode, stdout: '', stderr: '' });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.killed.push(signal);
    this.end(143);
    return true;
  }
}

/**
 * A WslHost for unit tests of the code around wsl.exe: exec hands each process to `onExec`,
 * `run` answers from `onRun`, and `connect` reaches a local Unix socket named by `sockets`.
 */
export class FakeWsl implements WslHost {
  readonly processes: FakeProcess[] = [];
  distros: DistroInfo[] = [];
  onExec: (p: FakeProcess, distro: string) => void = () => {};
  onRun: (distro: string, argv: string[]) => ExecResult = () => ({ exitCode: 0, stdout: '', stderr: '' });
  sockets = new Map<string, string>();

  async list(): Promise<DistroInfo[]> {
    return this.distros;
  }
  async import(): Promise<void> {}
  /** Every distro the code under test unregistered, in order. */
  readonly unregistered: string[] = [];
  async unregister(name: string): Promise<void> {
    this.unregistered.push(name);
  }
  async importInPlace(_name: string, _file: string): Promise<void> {}
  async resizeDisk(_name: string, _bytes: number): Promise<void> {}
  async setSparse(_name: string, _sparse: boolean): Promise<void> {}
  exec(distro: string, argv: string[], _options?: ExecOptions): WslProcess {
    const p = new FakeProcess(argv);
    this.processes.push(p);
    queueMicrotask(() => this.onExec(p, distro));
    return p;
  }
  async run(distro: string, argv: string[]): Promise<ExecResult> {
    return this.onRun(distro, argv);
  }
  async terminate(_name: string): Promise<void> {}
  async shutdown(): Promise<void> {}
  async setDefault(): Promise<void> {}
  socketHostPath(socketPath: string): string | undefined {
    return this.sockets.get(socketPath);
  }
  connect(_distro: string, socketPath: string): Promise<Duplex> {
    const local = this.sockets.get(socketPath);
    if (!local) return Promise.reject(new Error(`socket relay failed: cannot reach ${socketPath}`));
    return new Promise((resolve, reject) => {
      const s = connect(local);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }
}
