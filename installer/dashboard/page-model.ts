import type { ServerResponse } from 'node:http';
import { loadSettings } from '../settings.js';
import { answerApi, distroViews, type ApiDeps } from './api.js';
import type { ContainerView } from './container-view.js';
import { renderPage, type PageName } from './layout.js';
import type { PageModel } from './pages.js';
import type { EngineModel } from './pages-engine.js';
import { html } from './respond.js';

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

/** One page as it stands, with a refused form's field errors or a notice. */
export async function page(deps: ApiDeps, name: PageName, extra: Partial<PageModel> = {}): Promise<string> {
  const status = await deps.status();
  const [settings, distros, engine, configText, dataDiskFile] = await Promise.all([
    loadSettings(deps.settingsFile),
    distroViews(deps),
    status.state === 'running' ? engineModel(deps) : {},
    deps.engineConfig.text(),
    deps.dataDisk.file().catch(() => undefined),
  ]);
  return renderPage({ status, settings, distros, engine: { ...engine, errors: extra.errors }, engineConfig: { text: configText }, dataDiskFile, ...extra }, name);
}

/** A container's own page; one the engine does not know comes back as the list, saying so. */
export async function containerPage(deps: ApiDeps, id: string, res: ServerResponse, notice?: string): Promise<void> {
  const a = await answerApi(deps, 'GET', `/api/v1/containers/${encodeURIComponent(id)}`, undefined);
  if (a?.status !== 200) return html(res, a?.status ?? 404, await page(deps, 'containers', { notice: `Not shown: ${(a?.body as { message?: string } | undefined)?.message ?? 'no such container'}` }));
  html(res, 200, await page(deps, 'containers', { container: a.body as ContainerView, ...(notice ? { notice } : {}) }));
}
