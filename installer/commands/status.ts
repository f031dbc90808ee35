import { formatBytes } from '../../data-distro/disk-usage.js';
import { backendStatus } from '../backend/client.js';
import type { BackendStatus } from '../backend/status-schema.js';
import { loadSettings } from '../settings.js';
import { describeProxy } from './proxy.js';
import { EXIT, type CliContext } from './context.js';

/** `berth status [--json]`: exit 3 when stopped. */
export async function status(ctx: CliContext, json: boolean): Promise<number> {
  const settings = await loadSettings(ctx.home.settings);
  const s: BackendStatus = (await backendStatus(ctx.home)) ?? {
    state: 'stopped',
    endpoint: `unix://${ctx.home.dockerSocket}`,
    services: [],
    integrations: settings.integratedDistros.map((distro) => ({ distro, state: 'stopped' })),
  };
  if (json) ctx.say(JSON.stringify(s));
  else for (const line of [...describeStatus(s), `  proxy: ${describeProxy(settings.proxy)}${settings.containersProxy ? `; containers: ${describeProxy(settings.containersProxy)}` : ''}`]) ctx.say(line);
  return s.state === 'stopped' ? EXIT.notRunning : EXIT.ok;
}

/** The human-readable status, one line each. */
export function describeStatus(s: BackendStatus): string[] {
  const out = [`Berth: ${s.paused ? 'paused (Resource Saver: the engine is idle and frozen; any docker command resumes it)' : s.state}${s.state === 'starting' && s.progress ? ` (${s.progress})` : ''}`];
  if (s.error) out.push(`  error: ${s.error}`);
  if (s.settingsError) out.push(`  settings: ${s.settingsError}`);
  out.push(`  endpoint: ${s.endpoint}`);
  for (const svc of s.services) out.push(`  ${svc.name.padEnd(12)} ${svc.state.padEnd(10)} pid ${String(svc.pid ?? '-').padEnd(7)} restarts ${svc.restarts}`);
  for (const i of s.integrations) out.push(`  integration ${i.distro}: ${i.state}${i.detail ? ` (${i.detail})` : ''}`);
  if (s.portsError) out.push(`  ports: ${s.portsError}`);
  if (s.logsError) out.push(`  logs: ${s.logsError}`);
  if (s.disk) {
    const host = s.disk.imageBytes !== undefined ? `, ${formatBytes(s.disk.imageBytes)} on the host` : '';
    out.push(`  disk: ${s.disk.state} (${formatBytes(s.disk.usedBytes)} of ${formatBytes(s.disk.sizeBytes)} used${host})`);
    if (s.disk.fix) out.push(`    ${s.disk.fix}`);
  }
  const n = s.network;
  if (n && s.state === 'running') {
    out.push(`  network      ${n.state.padEnd(10)} ${n.helper}${n.pid ? ` pid ${n.pid}` : ''}, ${n.address} via ${n.gateway} (the host)${n.dns ? `, Berth DNS ${n.dns}` : ''}, restarts ${n.restarts}`);
    if (n.error) out.push(`    ${n.error}`);
  }
  return out;
}
