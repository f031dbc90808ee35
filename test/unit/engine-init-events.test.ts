import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BASE_ENV, encodeBootPlan } from '../../bootstrap-distro/agent/boot-plan.js';
import { EngineInit } from '../../bootstrap-distro/agent/engine-init.js';
import { parseLinuxkit } from '../../bootstrap-distro/agent/linuxkit-yaml.js';

/** The supervisor's reader of berth-engine-init's events, fed by hand. */
function reader() {
  const events = new PassThrough();
  const said: string[] = [];
  const init = new EngineInit(events, (l) => said.push(l));
  return { init, said, send: (...lines: string[]) => events.write(lines.map((l) => `${l}\n`).join('')), end: () => events.end() };
}

describe('the supervisor hearing berth-engine-init', () => {
  it('hears each step, in any order relative to its own asking', async () => {
    const { init, send } = reader();
    send('root ok', 'onboot sysctl 0 3', 'started containerd 11', 'started dockerd 12');
    await expect(init.root()).resolves.toBeUndefined();
    await expect(init.onboot('sysctl')).resolves.toEqual({ exitCode: 0, ms: 3 });
    const dockerd = await init.started('dockerd');
    expect(dockerd?.pid).toBe(12);
    send('exited dockerd 12 - SIGKILL', 'exited containerd 11 2 -');
    await expect(dockerd!.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    await expect((await init.started('containerd'))!.exited).resolves.toEqual({ code: 2, signal: null });
  });

  it("says why the root failed, in berth-engine-init's words", async () => {
    const { init, send } = reader();
    send('root failed cannot mount on /run/berth/root: No such file or directory');
    await expect(init.root()).rejects.toThrow('the LinuxKit root could not be assembled: cannot mount on /run/berth/root: No such file or directory');
  });

  it('stops waiting for a step that will not come once the plan is done, or berth-engine-init is gone', async () => {
    const first = reader();
    first.send('root ok', 'onboot broken 4 1', 'done');
    await expect(first.init.onboot('broken')).resolves.toEqual({ exitCode: 4, ms: 1 });
    await expect(first.init.onboot('after')).resolves.toBeUndefined();
    await expect(first.init.started('dockerd')).resolves.toBeUndefined();
    const second = reader();
    second.end();
    await expect(second.init.root()).rejects.toThrow('berth-engine-init ended first');
    await expect(second.init.started('dockerd')).resolves.toBeUndefined();
  });

  it('logs a line it does not understand, and acts on none of it', async () => {
    const { init, said, send } = reader();
    send('started Dockerd 12', 'started dockerd -1', 'exited dockerd 12 1 KILL', 'onboot a 0', 'root maybe', 'started dockerd 12 extra', 'started dockerd 7');
    expect((await init.started('dockerd'))?.pid).toBe(7);
    expect(said).toHaveLength(6);
    expect(said[0]).toBe('berth-agent: berth-engine-init said something not understood: started Dockerd 12');
  });
});

describe('the boot plan', () => {
  it("holds each entry's kind, name, working directory, environment over the base one, and command, as NUL-terminated tokens", () => {
    const config = parseLinuxkit('onboot:\n  - name: a\n    command: ["/bin/true"]\nservices:\n  - name: b\n    cwd: /var/lib\n    env: ["X=1", "PATH=/opt/bin"]\n    command: ["sleep", "9 s"]\n', 'x.yml');
    expect(encodeBootPlan(config).toString().split('\0')).toEqual([
      'berth-boot-plan-1',
      ...['onboot', 'a', '/', '2', `PATH=${BASE_ENV.PATH}`, `HOME=${BASE_ENV.HOME}`, '1', '/bin/true'],
      ...['service', 'b', '/var/lib', '3', 'PATH=/opt/bin', `HOME=${BASE_ENV.HOME}`, 'X=1', '2', 'sleep', '9 s'],
      'end',
      '',
    ]);
  });

  it('refuses a NUL byte, which would cut a token short', () => {
    const config = parseLinuxkit('services:\n  - name: b\n    command: ["sh", "-c", "echo \\u0000"]\n', 'x.yml');
    expect(() => encodeBootPlan(config)).toThrow('holds a NUL byte');
  });
});
