import { currentStatus } from '../control-client.js';

export async function run(args: string[]): Promise<number> {
  const s = await currentStatus();
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(s ?? { state: 'stopped', services: [] })}\n`);
    return s ? 0 : 3;
  }
  if (!s) {
    process.stdout.write('stopped\n');
    return 3;
  }
  process.stdout.write(`${s.state} (engine ${s.engine}), supervisor pid ${s.pid}, since ${s.startedAt}\n`);
  for (const svc of s.services) {
    const exit = svc.lastExit ? `, last exit ${svc.lastExit.signal ?? svc.lastExit.code}` : '';
    process.stdout.write(`  ${svc.name.padEnd(12)} ${svc.state.padEnd(10)} pid ${String(svc.pid ?? '-').padEnd(6)} restarts ${svc.restarts}${exit}\n`);
  }
  return 0;
}
