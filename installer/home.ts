import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the manager keeps settings, state, logs, images and the distros' install dirs. */
export function berthHome(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.BERTH_HOME) return env.BERTH_HOME;
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'Berth');
  return process.getuid?.() === 0 ? '/var/lib/berth' : join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'berth');
}

export class HomeLayout {
  constructor(readonly root: string) {}
  get settings() {
    return join(this.root, 'settings.json');
  }
  /** Passwords (0600), kept out of settings.json: installer/secrets.ts. */
  get secrets() {
    return join(this.root, 'secrets.json');
  }
  /** Registry logins from every distro (0600): installer/credentials.ts. */
  get credentials() {
    return join(this.root, 'credentials.json');
  }
  get state() {
    return join(this.root, 'state.json');
  }
  get images() {
    return join(this.root, 'images');
  }
  distroDir(name: string) {
    return join(this.root, 'distros', name);
  }
  get runDir() {
    return join(this.root, 'run');
  }
  get backendSocket() {
    return join(this.runDir, 'backend.sock');
  }
  get startLock() {
    return join(this.runDir, 'start.lock');
  }
  /** What the backend's last stop could not undo (read and removed by `berth stop`). */
  get stopReport() {
    return join(this.runDir, 'stop-report.json');
  }
  /** The host endpoint: the Docker API for the host's own docker CLI (a named pipe on Windows). */
  get dockerSocket() {
    return process.platform === 'win32' ? '\\\\.\\pipe\\berth_engine' : join(this.runDir, 'docker.sock');
  }
  /** berth-data's move journal (data-distro/disk-swap.ts): outside the run dir, which a restart may clear. */
  get dataMoveJournal() {
    return join(this.root, 'data-move.json');
  }
  /** Held by whatever changes berth-data's disk (install, resize, move), so only one does at a time. */
  get dataLock() {
    return join(this.root, 'data.lock');
  }
  get logsDir() {
    return join(this.root, 'logs');
  }
  /** Extra CAs the engine trusts (*.crt, *.pem), and per-registry certs.d. */
  get certsDir() {
    return join(this.root, 'certs');
  }
  get certsDDir() {
    return join(this.root, 'certs.d');
  }
  get backendOut() {
    return join(this.logsDir, 'backend.out');
  }
}
