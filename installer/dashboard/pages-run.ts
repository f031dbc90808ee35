import { esc, fieldError } from './html.js';

const described = (errors: Record<string, string> | undefined, key: string) => (errors?.[key] ? ` aria-describedby="${key}-error" aria-invalid="true"` : '');

/**
 * "Run an image" on the Images page: docker run -d, from a form. The image list offers the
 * local tags; mounts take a volume name or the user's own path (C:\Users\me\site, or a path
 * on a shared drive), which the host's Docker API translates as it does for `docker run -v`.
 */
export function runSection(images: Array<{ tags: string[] }> | undefined, errors?: Record<string, string>, values: Record<string, string> = {}): string {
  if (!images) return '';
  const tags = images.flatMap((i) => i.tags).filter((t) => t !== '<none>:<none>');
  const input = (name: string, label: string, hint: string, extra = '') =>
    `<label>${label} <input name="${name}" value="${esc(values[name] ?? '')}"${extra}${described(errors, `run-${name}`)}></label><small>${hint}</small>${fieldError(errors, `run-${name}`)}`;
  return `<section id="run" aria-labelledby="run-h"><h2 id="run-h">Run an image</h2>
<form method="post" action="/ui/containers/run">
${input('image', 'Image', 'a local image (pull others with <code>docker pull</code> first)', ' list="run-images" required')}
<datalist id="run-images">${tags.map((t) => `<option value="${esc(t)}"></option>`).join('')}</datalist>
${input('name', 'Name', 'optional')}
${input('command', 'Command', 'optional: words split at spaces, as the image’s own command when empty')}
${input('ports', 'Ports', '<code>8080:80</code> publishes container port 80 on localhost:8080; <code>80</code> alone takes any free port; commas between several')}
<label>Volumes and binds <textarea name="mounts" rows="2"${described(errors, 'run-mounts')}>${esc(values.mounts ?? '')}</textarea></label><small>one per line: <code>data:/var/lib/app</code> (a volume) or <code>C:\\Users\\me\\site:/usr/share/nginx/html</code> (a folder of yours)</small>${fieldError(errors, 'run-mounts')}
<p><button>Run</button></p>
</form></section>`;
}
