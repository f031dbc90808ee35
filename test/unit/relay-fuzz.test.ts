import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/wsl-root.js';

// berth-relay's parsers under libFuzzer (with ASan and UBSan) for a bounded time, from the
// committed corpus of real lines. BERTH_FUZZ_SECONDS makes the run longer (README reports one).
const SECONDS = Number(process.env.BERTH_FUZZ_SECONDS ?? 60);
const dir = mkdtempSync(join(tmpdir(), 'berth-fuzz-relay-'));
const source = join(REPO, 'common/port-forward');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("berth-relay's command and head parsers under libFuzzer", () => {
  it(`survive ${SECONDS} s of fuzzing with no crash, leak or sanitizer report`, async () => {
    const fuzzer = join(dir, 'relay-proto-fuzz');
    const built = await execa('clang', ['-g', '-O1', '-Wall', '-Wextra', '-Werror', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=all', '-o', fuzzer, join(source, 'fuzz/relay-proto-fuzz.c'), join(source, 'relay-proto.c')], { reject: false });
    expect(built.exitCode, `building the fuzzer failed (scripts/setup.sh installs clang and libclang-rt-14-dev): ${built.stderr}`).toBe(0);
    // New inputs go to a copy: the committed corpus changes only by hand.
    const corpus = join(dir, 'corpus');
    cpSync(join(source, 'fuzz/corpus'), corpus, { recursive: true });
    const seeds = readdirSync(corpus).length;
    const run = await execa(fuzzer, [`-max_total_time=${SECONDS}`, '-max_len=1024', '-timeout=10', '-print_final_stats=1', corpus], { reject: false, all: true });
    expect(run.exitCode, run.all?.split('\n').slice(-40).join('\n')).toBe(0);
    expect(run.all).toMatch(/Done \d+ runs in \d+ second/);
    const runs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(run.all ?? '')?.[1]);
    expect(runs).toBeGreaterThan(10_000);
    console.log(`relay-proto fuzz: ${runs} runs in ${SECONDS} s, corpus ${seeds} seeds → ${readdirSync(corpus).length} inputs`);
  }, (SECONDS + 120) * 1000);
});
