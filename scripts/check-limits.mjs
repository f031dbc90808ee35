#!/usr/bin/env node
// `npm run check-limits`: the code-health limits CI holds the tree to (import cycles are
// ESLint's, in `npm run lint`):
//   - README.md is at most 250 lines;
//   - every link in README.md and docs/ stays in the repository and points at a file that exists;
//   - no product function is over 60 lines, and no product file over 300.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const README_MAX_LINES = 250;
const FUNCTION_MAX_LINES = 60;
const FILE_MAX_LINES = 300;
const PRODUCT = ['common', 'wsl-host', 'wsl-proxy', 'bootstrap-distro', 'data-distro', 'installer'];

const problems = [];

const readme = readFileSync(join(repo, 'README.md'), 'utf8').split('\n').length - 1;
if (readme > README_MAX_LINES) problems.push(`README.md has ${readme} lines; at most ${README_MAX_LINES} (move the detail to docs/)`);

const pages = [
  'README.md',
  ...readdirSync(join(repo, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
for (const page of pages) {
  const text = readFileSync(join(repo, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      problems.push(`${page}: the link ${target} leaves the repository`);
      continue;
    }
    const path = target.split('#')[0];
    if (!path) continue;
    const file = resolve(repo, dirname(page), path);
    if (!file.startsWith(`${repo}/`) || !existsSync(file)) problems.push(`${page}: the link ${target} points at nothing in the repository`);
  }
}

const files = execFileSync('git', ['ls-files', ...PRODUCT.map((d) => `${d}/*.ts`)], { cwd: repo, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && !f.endsWith('.d.ts'));
const seen = new Map();
for (const file of files) {
  const text = readFileSync(join(repo, file), 'utf8');
  const fileLines = text.split('\n').length - 1;
  if (fileLines > FILE_MAX_LINES) problems.push(`${file}: ${fileLines} lines; at most ${FILE_MAX_LINES} (split it into files with one job each)`);
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body) {
      const lines = source.getLineAndCharacterOfPosition(node.end).line - source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      if (lines > FUNCTION_MAX_LINES) {
        const key = `${file} ${node.name?.getText(source) ?? '(anonymous)'}`;
        seen.set(key, Math.max(lines, seen.get(key) ?? 0));
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
for (const [key, lines] of seen) problems.push(`${key}: ${lines} lines; at most ${FUNCTION_MAX_LINES} (split it)`);

for (const p of problems) console.error(`check-limits: ${p}`);
console.log(`check-limits: README ${readme} lines, ${pages.length} pages' links, ${files.length} product files; ${seen.size} functions over ${FUNCTION_MAX_LINES} lines; ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
