import type { ServerResponse } from 'node:http';
import type { ApiAnswer } from './docker-routes.js';
import { answerApi } from './api.js';
import type { ApiDeps } from './api.js';
import { page } from './page-model.js';
import { back, html } from './respond.js';
import { fieldOf } from './run-image.js';

const FIELDS = ['image', 'name', 'command', 'ports', 'mounts'] as const;

/** The run form's fields as the API's request: ports by commas or spaces, mounts one per line, the command by spaces. */
export function runRequestOf(form: URLSearchParams): Record<string, unknown> {
  const text = (key: string) => (form.get(key) ?? '').trim();
  const words = (value: string, by: RegExp) =>
    value
      .split(by)
      .map((w) => w.trim())
      .filter(Boolean);
  return {
    image: text('image'),
    ...(text('name') ? { name: text('name') } : {}),
    ...(text('command') ? { command: words(text('command'), /\s+/) } : {}),
    ports: words(text('ports'), /[\s,]+/),
    mounts: words(text('mounts'), /\r?\n/),
  };
}

/** The Images page's "Run": started, its page opens; refused, the reason shows at its field and what was typed stays. */
export async function runForm({ deps, form, res }: { deps: ApiDeps; form: URLSearchParams; res: ServerResponse }): Promise<void> {
  const a = (await answerApi(deps, 'POST', '/api/v1/containers/run', runRequestOf(form))) as ApiAnswer;
  const body = a.body as { id?: string; message?: string; issues?: Array<{ path: string; message: string }> };
  if (a.status < 300 && body.id) return back(res, `/containers/${encodeURIComponent(body.id)}?done=containers-run`);
  const errors: Record<string, string> = {};
  for (const issue of body.issues ?? [{ path: fieldOf(body.message ?? ''), message: body.message ?? `the engine answered ${a.status}` }]) {
    const key = `run-${FIELDS.find((f) => f === issue.path) ?? 'image'}`;
    errors[key] = errors[key] ? `${errors[key]}; ${issue.message}` : issue.message;
  }
  const values = Object.fromEntries(FIELDS.map((f) => [f, form.get(f) ?? '']));
  html(res, a.status >= 400 ? a.status : 400, await page(deps, 'images', { errors, runForm: values, notice: 'The container was not run: see below.' }));
}
