import { stat } from 'node:fs/promises';
import { askStop, currentStatus } from '../control-client.js';
import { unpublishTools } from '../publish.js';
import { tearDownVmLink } from '../vm-link.js';
import { removeEngineCgroup, startedCgroup } from '../engine-cgroup.js';
import { sleep } from '../../../common/process.js';

export async function run(): Promise<number> {
  const s = await currentStatus();
  if (!s) {
    process.stderr.write('berth-agent: the engine is not running.\n');
    return 0;
  }
  await askStop();
  // Gone when the supervisor has exited: its pid no longer exists in this distro.
  for (let i = 0; i < 600; i++) {
    if (!(await stat(`/proc/${s.pid}`).catch(() => undefined))) {
      await tearDownVmLink();
      await unpublishTools();
      await removeEngineCgroup(await startedCgroup());
      return 0;
    }
    await sleep(50);
  }
  process.stderr.write(`berth-agent: the supervisor (pid ${s.pid}) did not exit within 30s.\n`);
  return 1;
}
