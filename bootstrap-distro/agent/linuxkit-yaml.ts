import { parse } from 'yaml';
import { checkLinuxkit, type LinuxkitConfig } from './linuxkit.js';

/** Parses and checks a LinuxKit YAML; an error names the file, the field and the problem. */
export function parseLinuxkit(text: string, source: string): LinuxkitConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid YAML: ${(e as Error).message}`, { cause: e });
  }
  return checkLinuxkit(doc, source);
}
