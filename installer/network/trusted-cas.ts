import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Debian's bundle of the CAs the system trusts (update-ca-certificates writes it). */
export const DEBIAN_SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * The PowerShell that prints the Windows Root stores (LocalMachine, CurrentUser) as PEM:
 * what the Windows side runs, its output going through the same PEM reader.
 */
export const WINDOWS_ROOT_STORES_SCRIPT = [
  "foreach ($s in 'Cert:\\LocalMachine\\Root','Cert:\\CurrentUser\\Root') {",
  '  Get-ChildItem $s | ForEach-Object {',
  "    '-----BEGIN CERTIFICATE-----'; [Convert]::ToBase64String($_.RawData, 'InsertLineBreaks'); '-----END CERTIFICATE-----'",
  '  }',
  '}',
].join('\n');

export interface TrustedCas {
  /** PEM, one certificate after another: what the engine trusts. */
  bundle: string;
  count: number;
  /** Files or blocks skipped, each naming the file and the fix. */
  warnings: string[];
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates in PEM text that parse; each that does not is a warning naming `source`. */
export function readPem(text: string, source: string): { certs: string[]; warnings: string[] } {
  const certs: string[] = [];
  const warnings: string[] = [];
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) warnings.push(`${source}: no PEM certificate in it (-----BEGIN CERTIFICATE-----); skipped. Convert a DER file with \`openssl x509 -inform der -in FILE -out FILE.crt\`.`);
  blocks.forEach((block, i) => {
    try {
      certs.push(new X509Certificate(block).toString().trim());
    } catch (e) {
      warnings.push(`${source}: certificate ${i + 1} does not parse (${(e as Error).message}); skipped, the others still load.`);
    }
  });
  return { certs, warnings };
}

/**
 * Each source's last reading. Parsing the ~150 CAs of a system bundle takes ~30 ms of CPU,
 * on the path of every engine start, and the bundle rarely changes while the backend runs.
 */
const lastReading = new Map<string, { text: string; result: ReturnType<typeof readPem> }>();

function readPemOnce(text: string, source: string): ReturnType<typeof readPem> {
  const last = lastReading.get(source);
  if (last?.text === text) return last.result;
  const result = readPem(text, source);
  lastReading.set(source, { text, result });
  return result;
}

/**
 * What the engine trusts: the host's own CAs (Debian's bundle, or `systemBundle`; the
 * Windows Root stores' PEM on Windows), plus every `*.crt` / `*.pem` in `userDir`
 * ($BERTH_HOME/certs). A file that cannot be read or parsed is skipped with a warning naming
 * it; the others still load. Duplicates are dropped.
 */
export async function collectTrustedCas(o: { systemBundle?: string; systemPem?: string; userDir: string }): Promise<TrustedCas> {
  const warnings: string[] = [];
  const all: string[] = [];
  const take = (text: string, source: string) => {
    const r = readPemOnce(text, source);
    all.push(...r.certs);
    warnings.push(...r.warnings);
  };
  if (o.systemPem !== undefined) take(o.systemPem, 'the Windows Root stores');
  else {
    const bundle = o.systemBundle ?? DEBIAN_SYSTEM_BUNDLE;
    try {
      take(await readFile(bundle, 'utf8'), bundle);
    } catch (e) {
      warnings.push(`${bundle}: cannot read the system's CA bundle (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the engine trusts only Berth's own certs. Install Debian's ca-certificates.`);
    }
  }
  const names = await readdir(o.userDir).catch(() => [] as string[]);
  for (const name of names.filter((n) => /\.(crt|pem)$/i.test(n)).sort()) {
    const file = join(o.userDir, name);
    try {
      take(await readFile(file, 'utf8'), file);
    } catch (e) {
      warnings.push(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); skipped, the others still load. Check its permissions.`);
    }
  }
  const unique = [...new Set(all)];
  return { bundle: unique.length ? `${unique.join('\n')}\n` : '', count: unique.length, warnings };
}

/** Per-registry trust ($BERTH_HOME/certs.d/HOST[:PORT]/{ca.crt,client.cert,client.key}), as dockerd's certs.d has it. */
export async function collectRegistryCerts(dir: string): Promise<Array<{ registry: string; file: string; contents: string }>> {
  const out: Array<{ registry: string; file: string; contents: string }> = [];
  for (const registry of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(registry)) continue;
    for (const file of (await readdir(join(dir, registry)).catch(() => [] as string[])).sort()) {
      if (!/^[\w.-]+\.(crt|cert|key)$/.test(file)) continue;
      const contents = await readFile(join(dir, registry, file), 'utf8').catch(() => undefined);
      if (contents !== undefined) out.push({ registry, file, contents });
    }
  }
  return out;
}
