import { askBackend, backendStatus } from '../backend/client.js';
import { loadSettings, updateSettings } from '../settings.js';
import { EXIT, Refused, type CliContext } from './context.js';

/**
 * `berth certs [containers on|off]`: with no argument, what the engine trusts and whether
 * containers and build steps trust it too; `containers on|off` sets containersTrustHostCAs,
 * which a running Berth follows at once (new containers; running ones keep what they have).
 */
export async function certsCommand(ctx: CliContext, what: string | undefined, value: string | undefined): Promise<number> {
  if (what !== undefined) {
    if (what !== 'containers' || (value !== 'on' && value !== 'off')) {
      throw new Refused(`berth certs ${[what, value].filter(Boolean).join(' ')}: not a certs command; use \`berth certs containers on\` or \`berth certs containers off\``);
    }
    await updateSettings(ctx.home.settings, (s) => {
      s.containersTrustHostCAs = value === 'on';
    });
    const live = await askBackend(ctx.home, 'reloadNetwork');
    ctx.say(`containersTrustHostCAs: ${value === 'on'}`);
    ctx.say(live ? 'in effect now for new containers and build steps (running containers keep what they started with)' : 'saved; Berth uses it when it starts.');
    return EXIT.ok;
  }
  const settings = await loadSettings(ctx.home.settings);
  const certificates = (await backendStatus(ctx.home))?.network?.certificates;
  const trusted = certificates
    ? `${certificates.count} CAs (the host's, and ${ctx.home.certsDir}), ${certificates.registries} registries in ${ctx.home.certsDDir}`
    : `the host's CAs and ${ctx.home.certsDir} (counted when Berth runs)`;
  ctx.say(`engine trusts: ${trusted}`);
  ctx.say(`containers and build steps trust them too: ${settings.containersTrustHostCAs ? 'yes' : 'no (berth certs containers on)'}`);
  for (const w of certificates?.warnings ?? []) ctx.say(`warning: ${w}`);
  return EXIT.ok;
}
