import type { DistroInfo } from '../../wsl-host/host.js';
import type { BackendStatus } from '../backend/status-schema.js';
import { BERTH_DISTRO, DATA_DISTRO } from '../distros.js';
import { loadSettings, saveSettings, settingsSchema, type Settings } from '../settings.js';
import type { IntegrationStatus } from '../integrations.js';
import type { HttpTarget } from '../../common/http-client.js';
import { answerDocker, DOCKER_ROUTES, type ApiAnswer } from './docker-routes.js';
import { answerProject, PROJECT_ROUTES } from './projects.js';
import { answerRun } from './run-image.js';
import { checkEngineConfig } from '../engine-config/schema.js';
import { keepProxyPasswords } from '../secrets.js';
import type { ApplyOutcome } from '../engine-config/store.js';
import type { UsageSource } from './usage.js';

/** What the API drives: the backend's state machine, the settings file, WSL's distro list. */
export interface ApiDeps {
  status(): Promise<BackendStatus>;
  startEngine(): void;
  stopEngine(): Promise<void>;
  restartEngine(): Promise<void>;
  reloadIntegrations(): Promise<IntegrationStatus[]>;
  reloadNetwork(): Promise<unknown>;
  listDistros(): Promise<DistroInfo[]>;
  settingsFile: string;
  /** Where proxy passwords go instead of the settings (installer/secrets.ts). */
  secretsFile: string;
  /** The engine's Docker API (for the allowlisted actions of docker-routes.ts). */
  daemon: HttpTarget;
  /**
   * `purge`: berth-data wiped (every image, container, volume), the engine started again if
   * enabled. `factory`: that, and the settings and daemon.json back to their defaults (the
   * engine switched off).
   */
  reset(kind: ResetKind): Promise<void>;
  /** A diagnostics bundle; its path. */
  diagnose(): Promise<string>;
  /** The Docker Engine page's daemon.json. */
  engineConfig: { text(): Promise<string>; apply(text: string): Promise<ApplyOutcome> };
  /**
   * berth-data's disk image: where it is, and a move (Docker Desktop's "Disk image location"),
   * which resolves once the move is under way and rejects, with the reason, one that cannot work.
   */
  dataDisk: { file(): Promise<string>; move(dir: string): Promise<void> };
  /**
   * The host's Docker API (the translating proxy, as the host's own docker CLI reaches it):
   * a run from the page goes there, so host paths in binds are translated and published
   * ports claimed; a container's inspect comes from there, with the user's own paths.
   */
  hostEndpoint: HttpTarget;
  /** The live charts' figures (usage.ts). */
  usage: UsageSource;
  /** Berth's logs of these sources (all when none), to follow. */
  openLogs(sources: string[]): { follow(onLine: (line: string) => void, o: { existing: boolean }): Promise<unknown>; stop(): void };
}

export type ResetKind = 'purge' | 'factory';
/** The word the user types to confirm each: Troubleshoot's "Clean / Purge data" and "Reset to factory defaults". */
export const CONFIRM_WORDS: Record<ResetKind, string> = { purge: 'purge', factory: 'reset' };

export type { ApiAnswer };

/** A user distro as the integration page shows it. */
export interface DistroView {
  name: string;
  version: 1 | 2;
  isDefault: boolean;
  integrated: boolean;
  /** The integration's state when it runs (running, starting, conflict, failed…). */
  state?: string;
  detail?: string;
  /** Why the switch is disabled (a WSL 1 distro). */
  disabled?: string;
}

type Handler = (deps: ApiDeps, params: string[], body: unknown) => Promise<ApiAnswer>;
interface Route {
  method: string;
  path: RegExp;
  /** As GET /api/v1 lists it. */
  name: string;
  handler: Handler;
}

const ok = (body: unknown): ApiAnswer => ({ status: 200, body });

/** Each zod issue as `{path, message}`, all at once. */
export function settingsIssues(candidate: unknown): Array<{ path: string; message: string }> | Settings {
  const r = settingsSchema.safeParse(candidate);
  if (r.success) return r.data;
  return r.error.issues.map((i) => ({ path: i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : '(top level)'), message: i.message }));
}

/** Saves a change to the settings and makes the running Berth follow it. */
export async function changeSettings(deps: ApiDeps, change: Record<string, unknown>): Promise<ApiAnswer> {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) return { status: 400, body: { message: 'send a JSON object of settings to change', issues: [] } };
  const before = await loadSettings(deps.settingsFile);
  const checked = settingsIssues({ ...before, ...change });
  if (Array.isArray(checked)) return { status: 400, body: { message: `${checked.length} setting(s) are invalid; nothing was saved`, issues: checked } };
  if ('proxy' in change) checked.proxy = await keepProxyPasswords(deps.secretsFile, checked.proxy);
  if ('containersProxy' in change && checked.containersProxy) checked.containersProxy = await keepProxyPasswords(deps.secretsFile, checked.containersProxy);
  await saveSettings(deps.settingsFile, checked);
  const changed = (key: keyof Settings) => JSON.stringify(before[key]) !== JSON.stringify(checked[key]);
  if (changed('wslEngine')) {
    if (checked.wslEngine) deps.startEngine();
    else await deps.stopEngine();
  }
  if (changed('integratedDistros') || changed('integrateWithDefaultDistro')) await deps.reloadIntegrations();
  if (changed('proxy') || changed('containersProxy') || changed('containersTrustHostCAs')) await deps.reloadNetwork();
  // Drives and the log level are read when the backend starts.
  return ok({ settings: checked, restartRequired: changed('drives') || changed('logLevel') || changed('memoryMiB') || changed('cpus') || changed('autoPauseTimeoutSeconds') });
}

export async function distroViews(deps: ApiDeps): Promise<DistroView[]> {
  const [list, settings, status] = await Promise.all([deps.listDistros(), loadSettings(deps.settingsFile), deps.status()]);
  const own = [BERTH_DISTRO, DATA_DISTRO];
  return list
    .filter((d) => !own.includes(d.name.toLowerCase()) && !d.name.toLowerCase().startsWith('docker-desktop'))
    .map((d) => {
      const live = status.integrations.find((i) => i.distro.toLowerCase() === d.name.toLowerCase());
      const integrated = settings.integratedDistros.some((x) => x.toLowerCase() === d.name.toLowerCase()) || (settings.integrateWithDefaultDistro && d.isDefault);
      return {
        name: d.name,
        version: d.version,
        isDefault: d.isDefault,
        integrated,
        ...(live ? { state: live.state, ...(live.detail ? { detail: live.detail } : {}) } : {}),
        ...(d.version !== 2 ? { disabled: 'a WSL 1 distro: integration needs WSL 2 (wsl --set-version NAME 2)' } : {}),
      };
    });
}

const ROUTES: Route[] = [
  { method: 'GET', path: /^\/api\/v1\/?$/, name: 'GET /api/v1', handler: async () => ok({ routes: [...ROUTES.map((r) => r.name), ...DOCKER_ROUTES.map((r) => r.name), ...PROJECT_ROUTES, ...STREAMED] }) },
  { method: 'POST', path: /^\/api\/v1\/containers\/run$/, name: 'POST /api/v1/containers/run', handler: (d, _p, body) => answerRun(d.hostEndpoint, body) },
  { method: 'GET', path: /^\/api\/v1\/status$/, name: 'GET /api/v1/status', handler: async (d) => ok(await d.status()) },
  { method: 'POST', path: /^\/api\/v1\/engine\/start$/, name: 'POST /api/v1/engine/start', handler: async (d) => (d.startEngine(), { status: 202, body: await d.status() }) },
  { method: 'POST', path: /^\/api\/v1\/engine\/stop$/, name: 'POST /api/v1/engine/stop', handler: async (d) => (await d.stopEngine(), ok(await d.status())) },
  { method: 'POST', path: /^\/api\/v1\/engine\/restart$/, name: 'POST /api/v1/engine/restart', handler: async (d) => (await d.restartEngine(), { status: 202, body: await d.status() }) },
  { method: 'GET', path: /^\/api\/v1\/settings$/, name: 'GET /api/v1/settings', handler: async (d) => ok(await loadSettings(d.settingsFile)) },
  { method: 'PUT', path: /^\/api\/v1\/settings$/, name: 'PUT /api/v1/settings', handler: async (d, _p, body) => changeSettings(d, body as Record<string, unknown>) },
  { method: 'GET', path: /^\/api\/v1\/distros$/, name: 'GET /api/v1/distros', handler: async (d) => ok(await distroViews(d)) },
  { method: 'PUT', path: /^\/api\/v1\/distros\/([^/]+)\/integration$/, name: 'PUT /api/v1/distros/{name}/integration', handler: (d, [name], body) => setIntegration(d, decodeURIComponent(name!), body) },
  { method: 'GET', path: /^\/api\/v1\/engine\/config$/, name: 'GET /api/v1/engine/config', handler: async (d) => ok({ text: await d.engineConfig.text() }) },
  { method: 'POST', path: /^\/api\/v1\/engine\/config\/validate$/, name: 'POST /api/v1/engine/config/validate {"text"}', handler: async (_d, _p, body) => ok(validateConfig(body)) },
  { method: 'PUT', path: /^\/api\/v1\/engine\/config$/, name: 'PUT /api/v1/engine/config {"text"}', handler: (d, _p, body) => putConfig(d, body) },
  { method: 'GET', path: /^\/api\/v1\/data$/, name: 'GET /api/v1/data', handler: async (d) => ok({ file: await d.dataDisk.file() }) },
  { method: 'POST', path: /^\/api\/v1\/data\/move$/, name: 'POST /api/v1/data/move {"dir"}', handler: (d, _p, body) => moveDataDisk(d, body) },
  { method: 'POST', path: /^\/api\/v1\/purge$/, name: 'POST /api/v1/purge {"confirm": "purge"}', handler: (d, _p, body) => reset(d, 'purge', body) },
  { method: 'POST', path: /^\/api\/v1\/reset$/, name: 'POST /api/v1/reset {"confirm": "reset"}', handler: (d, _p, body) => reset(d, 'factory', body) },
];

/** Starts a move of berth-data's disk; 400 with the reason when it cannot work (nothing stopped). */
export async function moveDataDisk(deps: ApiDeps, body: unknown): Promise<ApiAnswer> {
  const dir = (body as { dir?: unknown } | null)?.dir;
  if (typeof dir !== 'string' || dir.trim() === '') return { status: 400, body: { message: 'send {"dir": "/absolute/path"}: the directory to move berth-data\'s disk image into' } };
  try {
    await deps.dataDisk.move(dir.trim());
  } catch (e) {
    return { status: 400, body: { message: (e as Error).message } };
  }
  return { status: 202, body: { moving: dir.trim(), message: "the engine stops, the disk is copied and verified, then the engine starts again; the progress is in Berth's logs (source data)" } };
}

/** Routes served as streams or files by server.ts, listed here for GET /api/v1. */
const STREAMED = [
  'GET /api/v1/events (Server-Sent Events: status)',
  'GET /api/v1/containers/{id}/logs (Server-Sent Events)',
  'GET /api/v1/logs (Server-Sent Events: the last lines, then follow)',
  'GET /api/v1/diagnostics (a tar.gz)',
];

const configText = (body: unknown) => (typeof (body as { text?: unknown } | null)?.text === 'string' ? (body as { text: string }).text : undefined);

function validateConfig(body: unknown) {
  const text = configText(body);
  if (text === undefined) return { valid: false, issues: [{ path: 'text', message: 'send {"text": "<daemon.json>"}' }] };
  const checked = checkEngineConfig(text);
  return 'issues' in checked ? { valid: false, issues: checked.issues } : { valid: true, issues: [] };
}

/** A new daemon.json: refused whole with every issue, or saved and applied with the least it needs. */
async function putConfig(deps: ApiDeps, body: unknown): Promise<ApiAnswer> {
  const text = configText(body);
  if (text === undefined) return { status: 400, body: { message: 'send {"text": "<daemon.json>"}', issues: [] } };
  const outcome = await deps.engineConfig.apply(text);
  if ('issues' in outcome) return { status: 400, body: { message: `daemon.json has ${outcome.issues.length} problem(s); it was not saved`, issues: outcome.issues } };
  return ok(outcome);
}

async function reset(deps: ApiDeps, kind: ResetKind, body: unknown): Promise<ApiAnswer> {
  const word = CONFIRM_WORDS[kind];
  if ((body as { confirm?: unknown } | null)?.confirm !== word) {
    return { status: 400, body: { message: `this deletes every image, container and volume; type "${word}" to confirm it`, issues: [{ path: 'confirm', message: `type "${word}"` }] } };
  }
  await deps.reset(kind);
  return ok(await deps.status());
}

async function setIntegration(deps: ApiDeps, name: string, body: unknown): Promise<ApiAnswer> {
  const enabled = (body as { enabled?: unknown } | null)?.enabled;
  if (typeof enabled !== 'boolean') return { status: 400, body: { message: 'send {"enabled": true} or {"enabled": false}', issues: [{ path: 'enabled', message: 'expected a boolean' }] } };
  const distro = (await distroViews(deps)).find((d) => d.name.toLowerCase() === name.toLowerCase());
  if (!distro) return { status: 404, body: { message: `there is no user distro named ${name}; see \`wsl -l -v\`` } };
  if (enabled && distro.disabled) return { status: 409, body: { message: `${distro.name} is ${distro.disabled}` } };
  const settings = await loadSettings(deps.settingsFile);
  const others = settings.integratedDistros.filter((x) => x.toLowerCase() !== name.toLowerCase());
  const answer = await changeSettings(deps, { integratedDistros: enabled ? [...others, distro.name] : others });
  if (answer.status !== 200) return answer;
  return ok((await distroViews(deps)).find((d) => d.name === distro.name));
}

/** Answers one API request; undefined when no route matches (the caller says 404). */
export async function answerApi(deps: ApiDeps, method: string, path: string, body: unknown): Promise<ApiAnswer | undefined> {
  for (const r of ROUTES) {
    const m = r.method === method ? r.path.exec(path) : null;
    if (m) return r.handler(deps, m.slice(1), body);
  }
  return (await answerProject(deps.daemon, method, path)) ?? answerDocker(deps.daemon, method, path, deps.hostEndpoint);
}

export const API_ROUTE_NAMES = ROUTES.map((r) => r.name);
