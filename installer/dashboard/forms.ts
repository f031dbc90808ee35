import type { ServerResponse } from 'node:http';
import { moveDataDisk } from './api.js';
import { loadSettings, proxySettingsSchema, resourceSettingsSchema } from '../settings.js';
import { answerApi, changeSettings, CONFIRM_WORDS, distroViews, type ApiDeps, type ResetKind } from './api.js';
import { renderPage, type PageModel } from './pages.js';
import type { EngineModel } from './pages-engine.js';
import { back, html, json } from './respond.js';

/** The engine's lists for the page; each undefined when the engine does not answer. */
async function engineModel(deps: ApiDeps): Promise<EngineModel> {
  const get = async <T>(path: string) => {
    const a = await answerApi(deps, 'GET', path, undefined).catch(() => undefined);
    return a?.status === 200 ? (a.body as T) : undefined;
  };
  const [containers, images, volumes, df] = await Promise.all([
    get<EngineModel['containers']>('/api/v1/containers'),
    get<EngineModel['images']>('/api/v1/images'),
    get<EngineModel['volumes']>('/api/v1/volumes'),
    get<EngineModel['df']>('/api/v1/system/df'),
  ]);
  return { containers, images, volumes, df };
}

/** The whole page as it stands, with a refused form's field errors or a notice. */
export async function page(deps: ApiDeps, extra: Partial<PageModel> = {}): Promise<string> {
  const status = await deps.status();
  const [settings, distros, engine, configText, dataDiskFile] = await Promise.all([loadSettings(deps.settingsFile), distroViews(deps), status.state === 'running' ? engineModel(deps) : {}, deps.engineConfig.text(), deps.dataDisk.file().catch(() => undefined)]);
  return renderPage({ status, settings, distros, engine: { ...engine, errors: extra.errors }, engineConfig: { text: configText }, dataDiskFile, ...extra });
}

/** An Engine action from a form: the daemon's refusal is shown on the page, not as JSON. */
async function engineAction(deps: ApiDeps, res: ServerResponse, method: string, path: string, anchor: string): Promise<void> {
  const a = await answerApi(deps, method, path, undefined);
  if (a && a.status < 300) return back(res, anchor);
  html(res, a?.status ?? 404, await page(deps, { notice: `Not done: ${(a?.body as { message?: string } | undefined)?.message ?? 'no such action'}` }));
}

/** The forms of the page (they work without script): each acts, then shows the page again. */
export async function submitForm(deps: ApiDeps, path: string, form: URLSearchParams, res: ServerResponse): Promise<void> {
  const target = /^\/ui\/(containers|images|volumes)\/([^/]+)\/(start|stop|restart|delete)$/.exec(path);
  if (target) {
    const [, kind, name, verb] = target as unknown as [string, string, string, string];
    if (verb === 'delete') return engineAction(deps, res, 'DELETE', `/api/v1/${kind}/${name}`, `/#${kind}`);
    return engineAction(deps, res, 'POST', `/api/v1/${kind}/${name}/${verb}`, `/#${kind}`);
  }
  switch (path) {
    case '/ui/images/prune':
      return engineAction(deps, res, 'POST', '/api/v1/images/prune', '/#images');
    case '/ui/volumes/prune':
      return engineAction(deps, res, 'POST', '/api/v1/volumes/prune', '/#volumes');
    case '/ui/engine/start':
      deps.startEngine();
      return back(res, '/');
    case '/ui/engine/stop':
      await deps.stopEngine();
      return back(res, '/');
    case '/ui/engine/restart':
      await deps.stopEngine();
      deps.startEngine();
      return back(res, '/');
    case '/ui/purge':
    case '/ui/factory': {
      const kind = path.slice('/ui/'.length) as ResetKind;
      const word = CONFIRM_WORDS[kind];
      if (form.get('confirm') !== word) return html(res, 400, await page(deps, { errors: { [kind]: `Nothing was deleted: type "${word}" to confirm.` } }));
      await deps.reset(kind);
      return back(res, '/');
    }
    case '/ui/engine-config': {
      const text = form.get('config') ?? '';
      const outcome = await deps.engineConfig.apply(text);
      // Refused: the page comes back with the user's own text, so no edit is lost.
      if ('issues' in outcome) return html(res, 400, await page(deps, { engineConfig: { text, issues: outcome.issues } }));
      return back(res, '/#engine');
    }
    case '/ui/general':
      await changeSettings(deps, { wslEngine: form.getAll('wslEngine').includes('on') });
      return back(res, '/#general');
    case '/ui/integration': {
      const usable = (await distroViews(deps)).filter((d) => !d.disabled).map((d) => d.name);
      const chosen = form.getAll('distro').filter((d) => usable.includes(d));
      await changeSettings(deps, { integratedDistros: chosen, integrateWithDefaultDistro: form.get('integrateWithDefaultDistro') === 'on' });
      return back(res, '/#integration');
    }
    case '/ui/proxy': {
      const wanted = {
        mode: form.get('mode') ?? 'none',
        ...(form.get('http') ? { http: form.get('http') } : {}),
        ...(form.get('https') ? { https: form.get('https') } : {}),
        ...(form.get('pac') ? { pac: form.get('pac') } : {}),
        exclude: (form.get('exclude') ?? '').split(',').map((x) => x.trim()).filter(Boolean),
      };
      const checked = proxySettingsSchema.safeParse(wanted);
      if (!checked.success) {
        const errors = Object.fromEntries(checked.error.issues.map((i) => [String(i.path[0] ?? 'mode'), i.message]));
        return html(res, 400, await page(deps, { errors, notice: 'The proxy settings were not saved: see the fields below.' }));
      }
      await changeSettings(deps, { proxy: checked.data });
      return back(res, '/#proxies');
    }
    case '/ui/certificates':
      await changeSettings(deps, { containersTrustHostCAs: form.get('containersTrustHostCAs') === 'on' });
      return back(res, '/#proxies');
    case '/ui/resources': {
      const number = (v: string | null) => (v === null || v.trim() === '' ? undefined : Number(v.trim()));
      const checked = resourceSettingsSchema.safeParse({ memoryMiB: number(form.get('memoryMiB')), cpus: number(form.get('cpus')), autoPauseTimeoutSeconds: number(form.get('autoPauseTimeoutSeconds')) });
      if (!checked.success) {
        const errors = Object.fromEntries(checked.error.issues.map((i) => [String(i.path[0]), i.message]));
        return html(res, 400, await page(deps, { errors, notice: 'The resource limits were not saved: see the fields below.' }));
      }
      const answer = await changeSettings(deps, { memoryMiB: checked.data.memoryMiB, cpus: checked.data.cpus, autoPauseTimeoutSeconds: checked.data.autoPauseTimeoutSeconds });
      // The caps are set as the engine starts: a running one restarts (only when they changed).
      if ((answer.body as { restartRequired?: boolean }).restartRequired && (await deps.status()).state === 'running') {
        await deps.stopEngine();
        deps.startEngine();
      }
      return back(res, '/#resources');
    }
    case '/ui/data/move': {
      const a = await moveDataDisk(deps, { dir: form.get('dir') ?? '' });
      if (a.status >= 300) return html(res, a.status, await page(deps, { errors: { dir: (a.body as { message: string }).message }, notice: 'The disk image was not moved: see below.' }));
      return html(res, 202, await page(deps, { notice: `Moving berth-data's disk image to ${form.get('dir')}: the engine stops, the disk is copied and verified, then the engine starts again (Troubleshoot → logs shows the progress).` }));
    }
    default:
      return json(res, 404, { message: `no such form: ${path}` });
  }
}
