import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/wsl-root.js';

// The native helpers' parsers under libFuzzer (with ASan and UBSan) for a bounded time, each
// from its committed corpus of real inputs. BERTH_FUZZ_SECONDS makes the runs longer (README
// reports one).
const SECONDS = Number(process.env.BERTH_FUZZ_SECONDS ?? 60);
const dir = mkdtempSync(join(tmpdir(), 'berth-fuzz-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const targets = [
  { what: "berth-relay's command and head parsers", source: 'common/port-forward', fuzzer: 'relay-proto-fuzz', parsers: ['relay-proto.c'], maxLen: 1024 },
  { what: "the API front's HTTP framing (berth-relay api)", source: 'wsl-proxy/native', fuzzer: 'http-frame-fuzz', parsers: ['http-frame.c'], maxLen: 4096 },
  { what: "berth-runc's reader and editor of runtime specs", source: 'bootstrap-distro/runtime', fuzzer: 'spec-edit-fuzz', parsers: ['spec-edit.c'], maxLen: 8192 },
  { what: "berth-engine-init's boot plan reader", source: 'bootstrap-distro/engine-init', fuzzer: 'boot-plan-fuzz', parsers: ['boot-plan.c'], maxLen: 4096 },
];

describe.each(targets)('$what under libFuzzer', ({ source, fuzzer, parsers, maxLen }) => {
  it(
    `survive ${SECONDS} s of fuzzing with no crash, leak or sanitizer report`,
    async () => {
      const binary = join(dir, fuzzer);
      const sources = [join(REPO, source, 'fuzz', `${fuzzer}.c`), ...parsers.map((p) => join(REPO, source, p))];
      const built = await execa('clang', ['-g', '-O1', '-Wall', '-Wextra', '-Werror', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=all', '-o', binary, ...sources], { reject: false });
      expect(built.exitCode, `building the fuzzer failed (scripts/setup.sh installs clang and libclang-rt-14-dev): ${built.stderr}`).toBe(0);
      // New inputs go to a copy: the committed corpus changes only by hand.
      const corpus = join(dir, `${fuzzer}-corpus`);
      cpSync(join(REPO, source, 'fuzz/corpus'), corpus, { recursive: true });
      const seeds = readdirSync(corpus).length;
      const run = await execa(binary, [`-max_total_time=${SECONDS}`, `-max_len=${maxLen}`, '-timeout=10', '-print_final_stats=1', corpus], { reject: false, all: true });
      expect(run.exitCode, run.all?.split('\n').slice(-40).join('\n')).toBe(0);
      expect(run.all).toMatch(/Done \d+ runs in \d+ second/);
      const runs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(run.all ?? '')?.[1]);
      expect(runs).toBeGreaterThan(10_000);
      console.log(`${fuzzer}: ${runs} runs in ${SECONDS} s, corpus ${seeds} seeds → ${readdirSync(corpus).length} inputs`);
    },
    (SECONDS + 120) * 1000,
  );
});
