import { askBackend, backendStatus } from '../backend/client.js';
import { BERTH_DISTRO, DATA_DISTRO } from '../distros.js';
import { updateSettings } from '../settings.js';
import { EXIT, Refused, type CliContext } from './context.js';
import { sleep } from '../../common/process.js';

const SETTLE_TIMEOUT_MS = 60_000;
const POLL_MS = 250;

/** `berth integrate DISTRO [--off]`: saved in the settings; a running Berth follows at once. */
export async function integrate(ctx: CliContext, distro: string, off: boolean): Promise<number> {
  if ([BERTH_DISTRO, DATA_DISTRO].includes(distro.toLowerCase())) throw new Refused(`${distro} is one of Berth's own distros, not a place to integrate with`);
  if (!off) {
    const wsl = await ctx.wsl();
    const d = (await wsl.list()).find((x) => x.name.toLowerCase() === distro.toLowerCase());
    if (!d) throw new Refused(`there is no WSL distro named ${distro}; see \`wsl -l -v\``);
    if (d.version !== 2) throw new Refused(`${distro} is a WSL 1 distro; integration needs WSL 2 (wsl --set-version ${distro} 2)`);
  }
  await updateSettings(ctx.home.settings, (s) => {
    s.integratedDistros = s.integratedDistros.filter((x) => x.toLowerCase() !== distro.toLowerCase());
    if (!off) s.integratedDistros.push(distro);
  });
  const same = (i: { distro: string }) => i.distro.toLowerCase() === distro.toLowerCase();
  const live = await askBackend(ctx.home, 'reloadIntegrations');
  let mine = live?.find(same);
  // Already being started by the backend (Berth itself is starting): wait for the outcome.
  for (const end = Date.now() + SETTLE_TIMEOUT_MS; mine && ['starting', 'restarting'].includes(mine.state) && Date.now() < end;) {
    await sleep(POLL_MS);
    mine = (await backendStatus(ctx.home))?.integrations?.find(same) ?? mine;
  }
  if (off) ctx.say(`${distro}: integration off.`);
  else if (!live) ctx.say(`${distro}: integration on; it starts with Berth (\`berth start\`).`);
  else if (mine?.state === 'running') ctx.say(`${distro}: integration on: docker and /var/run/docker.sock work there${mine.detail ? ` (${mine.detail})` : ''}.`);
  else throw new Error(`${distro}: the integration did not start: ${mine?.state ?? 'unknown'}${mine?.detail ? `: ${mine.detail}` : ''}`);
  return EXIT.ok;
}
