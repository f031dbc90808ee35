import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { DATA_STORE_ROOT } from '../../common/shared-area.js';
import type { WslHost } from '../../wsl-host/host.js';
import { BERTH_DISTRO, DATA_DISTRO } from '../distros.js';
import { AGENT } from '../engine.js';
import { BERTH_REPO } from '../repo.js';
import { changeNeeds, checkEngineConfig, type ConfigIssue, type EngineConfig } from './schema.js';

/** Where the engine finds the effective daemon.json: berth-data's store, /var/lib/berth in the root (berth.yml's onboot `engine-config`). */
const IN_STORE = `${DATA_STORE_ROOT}/berth/daemon.json`;

/** Berth's own daemon.json, the file berth.yml's `files` put into the system image: the base the user's keys go over. */
export const BASE_ENGINE_CONFIG = join(BERTH_REPO, 'bootstrap-distro/linuxkit/daemon.json');

export async function baseEngineConfig(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(BASE_ENGINE_CONFIG, 'utf8')) as Record<string, unknown>;
}

export type ApplyOutcome = { issues: ConfigIssue[] } | { applied: 'nothing' | 'reload' | 'restart' | 'saved' };

/**
 * The user's daemon.json ($BERTH_HOME/daemon.json): checked before it is saved (an invalid
 * one is never written), merged over Berth's base into berth-data's store, and applied with
 * the least it needs: nothing, a SIGHUP (reloadable options), or a restart of the engine.
 */
export class EngineConfigStore {
  constructor(
    private readonly file: string,
    private readonly wsl: WslHost,
    /** Berth's own keys that depend on this home (the engine cgroup's `cgroup-parent`); the user's keys still win. */
    private readonly homeKeys: Record<string, unknown> = {},
  ) {}

  async text(): Promise<string> {
    return readFile(this.file, 'utf8').catch(() => '{}\n');
  }

  /** The user's config now; an invalid file (edited by hand) counts as empty, with its issues. */
  async current(): Promise<{ config: EngineConfig; issues?: ConfigIssue[] }> {
    const checked = checkEngineConfig(await this.text());
    return 'config' in checked ? { config: checked.config } : { config: {}, issues: checked.issues };
  }

  /** Writes the effective daemon.json where the engine reads it at its next start. */
  async sync(): Promise<string | undefined> {
    const { config, issues } = await this.current();
    const effective = { ...(await baseEngineConfig()), ...this.homeKeys, ...config };
    const script = 'set -e; mkdir -p "$(dirname "$1")"; cat > "$1.tmp"; mv -f "$1.tmp" "$1"';
    const r = await this.wsl.run(DATA_DISTRO, ['sh', '-c', script, 'sh', IN_STORE], { user: 'root', input: `${JSON.stringify(effective, null, 2)}\n` });
    if (r.exitCode !== 0) return `could not write the engine's daemon.json into berth-data: ${r.stderr.trim()}`;
    return issues ? `${this.file} is invalid (${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}); the engine starts with Berth's own daemon.json` : undefined;
  }

  /** Checks, saves and applies a new daemon.json; `restartEngine` when the change needs it. */
  async apply(text: string, engineRunning: boolean, restartEngine: () => Promise<void>): Promise<ApplyOutcome> {
    const checked = checkEngineConfig(text);
    if ('issues' in checked) return checked;
    const before = (await this.current()).config;
    await writeFileAtomic(this.file, text.endsWith('\n') ? text : `${text}\n`);
    if (!engineRunning) return { applied: 'saved' };
    const needs = changeNeeds(before, checked.config);
    if (needs === 'nothing') return { applied: 'nothing' };
    const problem = await this.sync();
    if (problem) throw new Error(problem);
    if (needs === 'restart') await restartEngine();
    else {
      const reload = 'cp /var/lib/berth/daemon.json /etc/docker/daemon.json && kill -HUP "$(pidof dockerd)"';
      const r = await this.wsl.run(BERTH_DISTRO, [AGENT, 'shell', 'sh', '-c', reload], { user: 'root' });
      if (r.exitCode !== 0) await restartEngine(); // the reload did not take: a restart does
    }
    return { applied: needs };
  }
}
