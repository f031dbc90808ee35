import { describe, expect, it } from 'vitest';
import { checkBuildArch } from '../../installer/images/build.js';

describe('the image build', () => {
  it('refuses a machine that is not x86_64 before it builds anything, saying what to do', () => {
    expect(() => checkBuildArch('arm64')).toThrow(/built for x86_64 only, and this machine is arm64.*point BERTH_IMAGES at the result/);
    expect(() => checkBuildArch('x64')).not.toThrow();
  });
});
