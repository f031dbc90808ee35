import { formatBytes } from '../../data-distro/disk-usage.js';
import { backendStatus } from '../backend/client.js';
import type { BackendStatus } from '../backend/status-schema.js';
import { readSettingsFile, unknownKeysWarning, type SettingsFile } from '../settings.js';
import { describeProxy } from './proxy.js';
import { EXIT, type CliContext } from './context.js';

/** `berth status [--json]`: exit 3 when stopped. */
export async function status(ctx: CliContext, json: boolean): Promise<number> {
  // The state is always shown; a settings problem is shown beside it, never instead of it.
  let file: SettingsFile | undefined;
  let settingsProblem: string | undefined;
  try {
    file = await readSettingsFile(ctx.home.settings);
    settingsProblem = unknownKeysWarning(ctx.home.settings, file.unknownKeys);
  } catch (e) {
    settingsProblem = (e as Error).message;
  }
  const running = await backendStatus(ctx.home);
  const s: BackendStatus = running ?? {
    state: 'stopped',
    endpoint: `unix://${ctx.home.dockerSocket}`,
    services: [],
    integrations: (file?.settings.integratedDistros ?? []).map((distro) => ({ distro, state: 'stopped' })),
  };
  if (settingsProblem && !s.settingsError) s.settingsError = settingsProblem;
  const proxy = file ? [`  proxy: ${describeProxy(file.settings.proxy)}${file.settings.containersProxy ? `; containers: ${describeProxy(file.settings.containersProxy)}` : ''}`] : [];
  if (json) ctx.say(JSON.stringify(s));
  else for (const line of [...describeStatus(s), ...proxy]) ctx.say(line);
  return s.state === 'stopped' ? EXIT.notRunning : EXIT.ok;
}

/** The human-readable status, one line each. */
export function describeStatus(s: BackendStatus): string[] {
  const out = [`Berth: ${s.paused ? 'paused (Resource Saver: the engine is idle and frozen; any docker command resumes it)' : s.state}${s.state === 'starting' && s.progress ? ` (${s.progress})` : ''}`];
  if (s.error) out.push(`  error: ${s.error}`);
  if (s.settingsError) out.push(`  settings: ${s.settingsError}`);
  if (s.update) out.push(`  update: ${s.update}`);
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
    out.push(
      `  network      ${n.state.padEnd(10)} ${n.helper}${n.pid ? ` pid ${n.pid}` : ''}${n.tcpRelayPid ? `, TCP by berth-relay pid ${n.tcpRelayPid}` : ''}, ${n.address} via ${n.gateway} (the host)${n.dns ? `, Berth DNS ${n.dns}` : ''}, restarts ${n.restarts}`,
    );
    if (n.error) out.push(`    ${n.error}`);
  }
  if (n?.proxy?.problem) out.push(`  proxy problem: ${n.proxy.problem}`);
  return out;
}
