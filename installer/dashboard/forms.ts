import type { ServerResponse } from 'node:http';
import { moveDataDisk } from './api.js';
import { proxySettingsSchema, resourceSettingsSchema } from '../settings.js';
import { answerApi, changeSettings, CONFIRM_WORDS, distroViews, type ApiDeps, type ResetKind } from './api.js';
import { isPageName, resultUrl, type PageName } from './layout.js';
import { back, html, json } from './respond.js';
import { runForm } from './form-run.js';
import { page } from './page-model.js';

/** An Engine action from a form: done, its page says so; refused, the daemon's reason is shown there, not as JSON. */
async function engineAction(deps: ApiDeps, res: ServerResponse, method: string, path: string, on: PageName, done: string): Promise<void> {
  const a = await answerApi(deps, method, path, undefined);
  // A prune answers what it freed (SpaceReclaimed): the notice says it.
  const freed = (a?.body as { SpaceReclaimed?: unknown } | undefined)?.SpaceReclaimed;
  if (a && a.status < 300) return back(res, resultUrl(on, done, '', typeof freed === 'number' ? freed : undefined));
  html(res, a?.status ?? 404, await page(deps, on, { notice: `Not done: ${(a?.body as { message?: string } | undefined)?.message ?? 'no such action'}` }));
}

/** One form's submission: what it sent, and where the answer goes. */
interface Submission {
  deps: ApiDeps;
  form: URLSearchParams;
  res: ServerResponse;
  path: string;
}

/** Factory reset or purge: only with the confirming word typed in. */
async function resetForm({ deps, form, res, path }: Submission): Promise<void> {
  const kind = path.slice('/ui/'.length) as ResetKind;
  const word = CONFIRM_WORDS[kind];
  if (form.get('confirm') !== word) return html(res, 400, await page(deps, 'troubleshoot', { errors: { [kind]: `Nothing was deleted: type "${word}" to confirm.` } }));
  await deps.reset(kind);
  back(res, resultUrl('troubleshoot', kind));
}

async function engineConfigForm({ deps, form, res }: Submission): Promise<void> {
  const text = form.get('config') ?? '';
  const outcome = await deps.engineConfig.apply(text);
  // Refused: the page comes back with the user's own text, so no edit is lost.
  if ('issues' in outcome) return html(res, 400, await page(deps, 'engine', { engineConfig: { text, issues: outcome.issues } }));
  back(res, resultUrl('engine', 'engine-config', 'engine'));
}

async function integrationForm({ deps, form, res }: Submission): Promise<void> {
  const usable = (await distroViews(deps)).filter((d) => !d.disabled).map((d) => d.name);
  const chosen = form.getAll('distro').filter((d) => usable.includes(d));
  await changeSettings(deps, { integratedDistros: chosen, integrateWithDefaultDistro: form.get('integrateWithDefaultDistro') === 'on' });
  back(res, resultUrl('settings', 'integration', 'integration'));
}

async function proxyForm({ deps, form, res }: Submission): Promise<void> {
  const wanted = {
    mode: form.get('mode') ?? 'none',
    ...(form.get('http') ? { http: form.get('http') } : {}),
    ...(form.get('https') ? { https: form.get('https') } : {}),
    ...(form.get('pac') ? { pac: form.get('pac') } : {}),
    exclude: (form.get('exclude') ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  };
  const checked = proxySettingsSchema.safeParse(wanted);
  if (!checked.success) {
    const errors = Object.fromEntries(checked.error.issues.map((i) => [String(i.path[0] ?? 'mode'), i.message]));
    return html(res, 400, await page(deps, 'settings', { errors, notice: 'The proxy settings were not saved: see the fields below.' }));
  }
  await changeSettings(deps, { proxy: checked.data });
  back(res, resultUrl('settings', 'proxy', 'proxies'));
}

async function resourcesForm({ deps, form, res }: Submission): Promise<void> {
  const number = (v: string | null) => (v === null || v.trim() === '' ? undefined : Number(v.trim()));
  const checked = resourceSettingsSchema.safeParse({ memoryMiB: number(form.get('memoryMiB')), cpus: number(form.get('cpus')), autoPauseTimeoutSeconds: number(form.get('autoPauseTimeoutSeconds')) });
  if (!checked.success) {
    const errors = Object.fromEntries(checked.error.issues.map((i) => [String(i.path[0]), i.message]));
    return html(res, 400, await page(deps, 'settings', { errors, notice: 'The resource limits were not saved: see the fields below.' }));
  }
  const answer = await changeSettings(deps, { memoryMiB: checked.data.memoryMiB, cpus: checked.data.cpus, autoPauseTimeoutSeconds: checked.data.autoPauseTimeoutSeconds });
  // The caps are set as the engine starts: a running one restarts (only when they changed).
  if ((answer.body as { restartRequired?: boolean }).restartRequired && (await deps.status()).state === 'running') await deps.restartEngine();
  back(res, resultUrl('settings', 'resources', 'resources'));
}

async function dataMoveForm({ deps, form, res }: Submission): Promise<void> {
  const a = await moveDataDisk(deps, { dir: form.get('dir') ?? '' });
  if (a.status >= 300) return html(res, a.status, await page(deps, 'settings', { errors: { dir: (a.body as { message: string }).message }, notice: 'The disk image was not moved: see below.' }));
  html(
    res,
    202,
    await page(deps, 'settings', {
      notice: `Moving berth-data's disk image to ${form.get('dir')}: the engine stops, the disk is copied and verified, then the engine starts again (Troubleshoot → logs shows the progress).`,
    }),
  );
}

/** The page a button was pressed on (its hidden `from`), to come back to; else `fallback`. */
function pageOr(form: URLSearchParams, fallback: PageName): PageName {
  const from = form.get('from') ?? '';
  return isPageName(from) ? from : fallback;
}
const fromPage = (form: URLSearchParams) => pageOr(form, 'containers');

/** The page's forms by path (they work without script): each acts, then shows the page again. */
const FORMS: Record<string, (s: Submission) => Promise<void>> = {
  '/ui/images/prune': ({ deps, form, res }) => engineAction(deps, res, 'POST', '/api/v1/images/prune', pageOr(form, 'images'), 'images-prune'),
  '/ui/volumes/prune': ({ deps, form, res }) => engineAction(deps, res, 'POST', '/api/v1/volumes/prune', pageOr(form, 'volumes'), 'volumes-prune'),
  '/ui/containers/prune': ({ deps, res }) => engineAction(deps, res, 'POST', '/api/v1/containers/prune', 'engine', 'containers-prune'),
  '/ui/build/prune': ({ deps, res }) => engineAction(deps, res, 'POST', '/api/v1/build/prune', 'engine', 'build-prune'),
  '/ui/engine/start': async ({ deps, form, res }) => {
    deps.startEngine();
    back(res, resultUrl(fromPage(form), 'engine-start'));
  },
  '/ui/engine/stop': async ({ deps, form, res }) => {
    await deps.stopEngine();
    back(res, resultUrl(fromPage(form), 'engine-stop'));
  },
  '/ui/engine/restart': async ({ deps, form, res }) => {
    await deps.restartEngine();
    back(res, resultUrl(fromPage(form), 'engine-restart'));
  },
  '/ui/purge': resetForm,
  '/ui/factory': resetForm,
  '/ui/engine-config': engineConfigForm,
  '/ui/general': async ({ deps, form, res }) => {
    await changeSettings(deps, { wslEngine: form.getAll('wslEngine').includes('on') });
    back(res, resultUrl('settings', 'general', 'general'));
  },
  '/ui/integration': integrationForm,
  '/ui/proxy': proxyForm,
  '/ui/certificates': async ({ deps, form, res }) => {
    await changeSettings(deps, { containersTrustHostCAs: form.get('containersTrustHostCAs') === 'on' });
    back(res, resultUrl('settings', 'certificates', 'proxies'));
  },
  '/ui/resources': resourcesForm,
  '/ui/containers/run': runForm,
  '/ui/data/move': dataMoveForm,
};

/** A form of the page: an Engine action on one container, image or volume, or one of FORMS. */
export async function submitForm(deps: ApiDeps, path: string, form: URLSearchParams, res: ServerResponse): Promise<void> {
  const target = /^\/ui\/(containers|images|volumes|projects)\/([^/]+)\/(start|stop|restart|delete)$/.exec(path);
  if (target) {
    const [, kind, name, verb] = target as unknown as [string, string, string, string];
    const on: PageName = kind === 'projects' ? 'containers' : (kind as PageName);
    if (verb === 'delete') return engineAction(deps, res, 'DELETE', `/api/v1/${kind}/${name}`, on, `${kind}-delete`);
    return engineAction(deps, res, 'POST', `/api/v1/${kind}/${name}/${verb}`, on, `${kind}-${verb}`);
  }
  const handler = Object.hasOwn(FORMS, path) ? FORMS[path] : undefined;
  if (!handler) return json(res, 404, { message: `no such form: ${path}` });
  return handler({ deps, form, res, path });
}
