import { spawn } from 'node:child_process';
import { askBackend, ensureBackend } from '../backend/client.js';
import { bootWhileBackendLoads } from '../backend/boot-distros.js';
import { loadSettings } from '../settings.js';
import { EXIT, type CliContext } from './context.js';

/** The desktop's "open this URL", when there is a desktop to open it on. */
function opener(env: NodeJS.ProcessEnv): string[] | undefined {
  if (process.platform === 'win32') return ['cmd', '/c', 'start', '""'];
  if (process.platform === 'darwin') return ['open'];
  return env.DISPLAY || env.WAYLAND_DISPLAY ? ['xdg-open'] : undefined;
}

/**
 * `berth dashboard`: starts the backend if needed (without the engine when it is switched
 * off: the page is where it gets switched on), then prints a one-time login link.
 */
export async function dashboard(ctx: CliContext): Promise<number> {
  const settings = await loadSettings(ctx.home.settings);
  await ensureBackend(ctx.home, settings.wslEngine ? { whileSpawning: () => bootWhileBackendLoads(ctx) } : { idle: true });
  const login = await askBackend(ctx.home, 'dashboardLogin');
  if (!login) throw new Error(`the backend does not answer; see ${ctx.home.backendOut}`);
  ctx.say(login.url);
  const open = process.stdout.isTTY ? opener(process.env) : undefined;
  if (open)
    spawn(open[0]!, [...open.slice(1), login.url], { detached: true, stdio: 'ignore' })
      .on('error', () => undefined)
      .unref();
  return EXIT.ok;
}
