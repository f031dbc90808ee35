import { execa } from 'execa';

export const CONTEXT = 'berth';

/**
 * Creates (or updates) the docker context `berth` pointing at the host endpoint. The user's
 * current context is never changed. Without a docker CLI there is nothing to do.
 */
export async function ensureDockerContext(endpoint: string): Promise<string> {
  const exists = await execa('docker', ['context', 'inspect', CONTEXT], { reject: false }).catch(() => undefined);
  if (!exists) return 'no docker CLI on this machine: skipped the docker context';
  if (exists.exitCode === 0 && currentHost(exists.stdout) === endpoint) return `docker context "${CONTEXT}" is up to date: docker --context ${CONTEXT} …`;
  const verb = exists.exitCode === 0 ? 'update' : 'create';
  const r = await execa('docker', ['context', verb, CONTEXT, '--description', 'Berth (WSL 2 engine)', '--docker', `host=${endpoint}`], { reject: false });
  if (r.exitCode !== 0) throw new Error(`docker context ${verb} ${CONTEXT} failed: ${r.stderr.trim()}`);
  return `docker context "${CONTEXT}" ${verb === 'create' ? 'created' : 'updated'}: docker --context ${CONTEXT} …`;
}

/** The docker endpoint of `docker context inspect`'s output, if it can be read. */
function currentHost(inspectOutput: string): string | undefined {
  try {
    return (JSON.parse(inspectOutput) as Array<{ Endpoints?: { docker?: { Host?: string } } }>)[0]?.Endpoints?.docker?.Host;
  } catch {
    return undefined;
  }
}

export async function removeDockerContext(): Promise<void> {
  await execa('docker', ['context', 'rm', '--force', CONTEXT], { reject: false }).catch(() => undefined);
}
