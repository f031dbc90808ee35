import { describe, expect, it } from 'vitest';
import { decodeWslOutput, encodeWslOutput } from '../../wsl-host/decode.js';
import { errorFromOutput, parseListVerbose, parseNames, saysNoDistributions } from '../../wsl-host/parse.js';
import * as out from '../fixtures/wsl-outputs.js';

const styles = ['utf16-bom', 'utf16', 'utf16-crcrlf', 'utf8'] as const;

describe('decoding wsl.exe output', () => {
  for (const style of styles) {
    it(`reads ${style} as plain text with \\n line ends`, () => {
      expect(decodeWslOutput(out.asWindowsBytes(out.listVerboseEnglish, style))).toBe(out.listVerboseEnglish);
    });
  }

  it('keeps non-ASCII text intact in UTF-16LE', () => {
    expect(decodeWslOutput(out.asWindowsBytes(out.listVerboseGerman, 'utf16'))).toContain('Wird ausgeführt');
  });

  it('round-trips what the Linux WSL host prints in either encoding', () => {
    for (const utf8 of [true, false]) expect(decodeWslOutput(encodeWslOutput('a\nb\n', utf8))).toBe('a\nb\n');
    expect(encodeWslOutput('x\n', false)).toEqual(Buffer.from('x\r\n', 'utf16le'));
  });
});

describe('parsing wsl -l -v', () => {
  for (const style of styles) {
    it(`finds names, versions and the default in ${style}`, () => {
      const distros = parseListVerbose(decodeWslOutput(out.asWindowsBytes(out.listVerboseEnglish, style)));
      expect(distros).toEqual([
        { name: 'Ubuntu', version: 2, isDefault: true },
        { name: 'docker-desktop-data', version: 2, isDefault: false },
        { name: 'Legacy', version: 1, isDefault: false },
      ]);
    });
  }

  it('does not depend on the localised header or STATE column', () => {
    expect(parseListVerbose(out.listVerboseGerman)).toEqual([
      { name: 'Ubuntu-22.04', version: 2, isDefault: true },
      { name: 'berth', version: 2, isDefault: false },
    ]);
  });

  it('reads -q output as one name a line', () => {
    expect(parseNames(decodeWslOutput(out.asWindowsBytes('Ubuntu\nberth\n', 'utf16-crcrlf')))).toEqual(['Ubuntu', 'berth']);
  });
});

describe('mapping wsl errors to typed errors', () => {
  it('maps WSL_E_DISTRO_NOT_FOUND, in either encoding, to not-found with the code kept', () => {
    for (const style of styles) {
      const e = errorFromOutput(decodeWslOutput(out.asWindowsBytes(out.notFound, style)), 255);
      expect(e.kind).toBe('not-found');
      expect(e.code).toBe('Wsl/Service/WSL_E_DISTRO_NOT_FOUND');
      expect(e.detail).toBe('There is no distribution with the supplied name.');
      expect(e.message).toMatch(/What to do: check the name/);
    }
  });

  it('recognises builds that print no error code', () => {
    expect(errorFromOutput(out.notFoundOldBuild).kind).toBe('not-found');
    expect(errorFromOutput(out.needsKernelUpdate).kind).toBe('not-wsl2');
  });

  it('maps exists and virtualization-disabled', () => {
    expect(errorFromOutput(out.alreadyExists).kind).toBe('exists');
    expect(errorFromOutput(out.virtualizationDisabled).kind).toBe('virtualization-disabled');
  });

  it('calls anything else failed and keeps its text', () => {
    const e = errorFromOutput('Catastrophic failure\nError code: Wsl/Service/E_UNEXPECTED\n', -1);
    expect(e.kind).toBe('failed');
    expect(e.message).toContain('Catastrophic failure');
  });

  it('tells "no installed distributions" apart from a real failure', () => {
    expect(saysNoDistributions(decodeWslOutput(out.asWindowsBytes(out.noDistributions, 'utf16')))).toBe(true);
    expect(saysNoDistributions(out.notFound)).toBe(false);
  });
});

describe('an empty --running list', () => {
  it('is no failure', () => {
    expect(saysNoDistributions('There are no running distributions.\n')).toBe(true);
  });
});
