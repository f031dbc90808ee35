// Builds test/fixtures/wsl-strings.json from Microsoft's WSL sources at a pinned commit:
// the messages wsl.exe prints that the driver parses or the Linux WSL host prints, in every
// locale the repository ships, and the `-l -v` table's header, state words and widths as
// WslClient.cpp formats them. Data about an interface, read from the source; no code of it.
//
//   node scripts/wsl-fixtures.mjs WSL_GIT_DIR           write the fixture
//   node scripts/wsl-fixtures.mjs WSL_GIT_DIR --check   exit 1 unless the committed one is reproduced byte for byte
//
// WSL_GIT_DIR is a clone of https://github.com/microsoft/WSL (bare or not) holding PINNED_COMMIT.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';

export const PINNED_COMMIT = '3e27a6a50177ce4e32e72f7b957aef5db5768062';
const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/wsl-strings.json');

/** The resources Berth's driver parses or its Linux WSL host prints (localization/strings/<locale>/Resources.resw). */
const RESOURCES = [
  'MessageErrorCode',
  'MessageDistroNotFound',
  'MessageDistroNameAlreadyExists',
  'MessageNoDefaultDistro',
  'MessageNoRunningDistro',
  'MessageRegisteredDistrosHeader',
  'MessagePrintDistroDefault',
  'MessageImportProgress',
  'MessageStatusUnregistering',
  'MessageInvalidCommandLine',
  'MessageInvalidDistributionTar',
  'MessageDistroInstallPathAlreadyExists',
  'MessageEnableVirtualization',
  'MessageVhdInUse',
  'MessageSparseVhdDisabled',
  'MessageImportFailed',
  'MessageWsl1NotSupported',
];

const [gitDir, flag] = process.argv.slice(2);
if (!gitDir || (flag && flag !== '--check')) {
  console.error('usage: node scripts/wsl-fixtures.mjs WSL_GIT_DIR [--check]   (a clone of https://github.com/microsoft/WSL)');
  process.exit(2);
}

function show(path) {
  try {
    return execFileSync('git', ['-C', gitDir, 'show', `${PINNED_COMMIT}:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    console.error(`wsl-fixtures: cannot read ${path} at ${PINNED_COMMIT} in ${gitDir}: is it a clone of microsoft/WSL that has this commit (git fetch)?`);
    throw e;
  }
}

function locales() {
  const out = execFileSync('git', ['-C', gitDir, 'ls-tree', '--name-only', `${PINNED_COMMIT}:localization/strings`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).sort();
}

const xml = new XMLParser({ ignoreAttributes: false, trimValues: false, isArray: (name) => name === 'data' });

/** One locale's chosen strings, line ends as wsl.exe's text has them before the console writes them ("\n"). */
function strings(locale) {
  const doc = xml.parse(show(`localization/strings/${locale}/Resources.resw`));
  const byName = new Map(doc.root.data.map((d) => [d['@_name'], String(d.value ?? '')]));
  return Object.fromEntries(
    RESOURCES.map((name) => {
      if (!byName.has(name)) throw new Error(`wsl-fixtures: ${locale} has no ${name}`);
      return [name, byName.get(name).replace(/\r\n/g, '\n')];
    }),
  );
}

/** The `-l -v` table as ListDistributionsHelper prints it: header words, state words, widths. */
function listTable() {
  const header = Object.fromEntries([...show('src/windows/inc/wsl.h').matchAll(/#define WSL_LIST_HEADER_(NAME|STATE|VERSION) L"([^"]+)"/g)].map((m) => [m[1].toLowerCase(), m[2]]));
  const client = show('src/windows/common/WslClient.cpp');
  const helper = client.slice(client.indexOf('int ListDistributionsHelper'));
  const nameExtra = Number(/std::to_wstring\(maxLength \+ (\d+)\)/.exec(helper)?.[1]);
  const stateWidth = Number(/L"s%-(\d+)s%s\\n"/.exec(helper)?.[1]);
  const verbose = helper.slice(0, helper.indexOf('else if (!options.online)'));
  const states = [...new Set([...verbose.matchAll(/state = L"(\w+)"/g)].map((m) => m[1]))];
  if (!header.name || !header.state || !header.version || !nameExtra || !stateWidth || states.length < 2) throw new Error('wsl-fixtures: the -l -v format was not found where it was; read WslClient.cpp again');
  return { header, states, nameColumnExtra: nameExtra, stateColumnWidth: stateWidth };
}

const fixture = {
  source: 'https://github.com/microsoft/WSL',
  commit: PINNED_COMMIT,
  generatedBy: 'node scripts/wsl-fixtures.mjs WSL_GIT_DIR',
  listVerbose: listTable(),
  strings: Object.fromEntries(locales().map((l) => [l, strings(l)])),
};
const text = `${JSON.stringify(fixture, null, 2)}\n`;

if (flag === '--check') {
  const committed = readFileSync(OUTPUT, 'utf8');
  if (committed !== text) {
    console.error(`wsl-fixtures: ${OUTPUT} differs from what ${PINNED_COMMIT} gives; run without --check to write it`);
    process.exit(1);
  }
  console.log(`wsl-fixtures: ${OUTPUT} reproduced byte for byte from ${PINNED_COMMIT} (${Object.keys(fixture.strings).length} locales)`);
} else {
  writeFileSync(OUTPUT, text, { mode: 0o644 });
  console.log(`wsl-fixtures: wrote ${OUTPUT} from ${PINNED_COMMIT} (${Object.keys(fixture.strings).length} locales, ${RESOURCES.length} messages each)`);
}
