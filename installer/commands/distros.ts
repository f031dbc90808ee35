import { removeDockerContext } from '../docker-context.js';
import { BERTH_DISTRO, DATA_DISTRO } from '../distros.js';
import { wipeDataDistro } from '../reset.js';
import { loadSettings, updateSettings } from '../settings.js';
import { rm } from 'node:fs/promises';
import { EXIT, Refused, type CliContext } from './context.js';
import { start, stop } from './lifecycle.js';

async function unregisterIfPresent(ctx: CliContext, name: string): Promise<boolean> {
  if (!(await ctx.wsl.list()).some((d) => d.name.toLowerCase() === name)) return false;
  await ctx.wsl.unregister(name);
  return true;
}

/** `berth reset --yes`: factory reset, wiping berth-data; starts again if the engine is enabled. */
export async function reset(ctx: CliContext, yes: boolean): Promise<number> {
  if (!yes) throw new Refused('reset deletes every image, container and volume in Berth; run `berth reset --yes` to do it');
  await stop(ctx);
  if (await wipeDataDistro(ctx.wsl, ctx.home, (l) => ctx.warn(`berth: ${l}\n`))) ctx.say(`${DATA_DISTRO} wiped.`);
  return (await loadSettings(ctx.home.settings)).wslEngine ? start(ctx) : EXIT.ok;
}

/** `berth uninstall [--delete-data]`: both distros go; berth-data only when the user says so. */
export async function uninstall(ctx: CliContext, deleteDataFlag: boolean): Promise<number> {
  await stop(ctx);
  if (await unregisterIfPresent(ctx, BERTH_DISTRO)) ctx.say(`${BERTH_DISTRO} unregistered.`);
  const deleteData = deleteDataFlag || (await ctx.confirm(`Delete ${DATA_DISTRO} with all images, containers and volumes?`));
  if (deleteData && (await unregisterIfPresent(ctx, DATA_DISTRO))) ctx.say(`${DATA_DISTRO} deleted.`);
  else if (!deleteData) ctx.say(`${DATA_DISTRO} kept (its data survives; \`berth uninstall --delete-data\` removes it).`);
  await removeDockerContext();
  await rm(ctx.home.state, { force: true });
  await updateSettings(ctx.home.settings, (s) => (s.wslEngine = false));
  return EXIT.ok;
}
