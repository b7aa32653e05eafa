#!/usr/bin/env node
// Reads the suite's result directories (one `checks.json` per scenario) and prints, per run, how
// many scenarios passed and failed, judged as the suite's own baseline judges them: a scenario
// fails when any check is FAILURE or WARNING; a failure listed in the expected-failures file is
// expected; a listed failure that now passes is stale, and counts as a failure (the list must
// shrink as the server improves). Scenarios a revision runs but does not score are reported
// apart and never counted.
//
//   node bin/summarize.mjs --results DIR --expected-failures FILE
//
// DIR holds `server-<revision>/` and `authorization/`. Writes DIR/summary.txt; the last line is
// `N passed, N failed`. Exits 1 when anything failed.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const { values } = parseArgs({
  options: { results: { type: 'string' }, 'expected-failures': { type: 'string' } },
});
if (!values.results || !values['expected-failures']) {
  console.error('usage: summarize.mjs --results DIR --expected-failures FILE');
  process.exit(2);
}

const packageDir = fileURLToPath(new URL('../node_modules/@modelcontextprotocol/conformance/', import.meta.url));
const requirements = (revision) => parse(readFileSync(join(packageDir, 'requirements', `${revision}.yaml`), 'utf8'));

// Entries are `scenario` (the whole scenario may fail) or `scenario:check-id` (only that check).
const expected = { scenarios: new Set(), checks: new Map() };
for (const entry of parse(readFileSync(values['expected-failures'], 'utf8'))?.server ?? []) {
  const [scenario, check] = String(entry).split(':');
  if (check === undefined) expected.scenarios.add(scenario);
  else expected.checks.set(scenario, new Set([...(expected.checks.get(scenario) ?? []), check]));
}

/** Every scenario's checks in one run's result directory, by scenario name. */
function results(dir, prefix) {
  const out = new Map();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const m = name.match(new RegExp(`^${prefix}-(.+)-\\d{4}-\\d{2}-\\d{2}T[\\d-]+Z$`));
    const file = join(dir, name, 'checks.json');
    if (m && existsSync(file)) out.set(m[1], JSON.parse(readFileSync(file, 'utf8')));
  }
  return out;
}

/** passed | failed | expected | stale, for one scenario's checks. */
function verdict(scenario, checks) {
  const failing = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING').map((c) => c.id);
  if (expected.scenarios.has(scenario)) return failing.length > 0 ? 'expected' : 'stale';
  const listed = expected.checks.get(scenario);
  if (listed) {
    if (failing.some((id) => !listed.has(id))) return 'failed';
    if (failing.length > 0) return 'expected';
    const passedListed = checks.some((c) => listed.has(c.id) && c.status === 'SUCCESS');
    return passedListed ? 'stale' : 'passed';
  }
  return failing.length > 0 ? 'failed' : 'passed';
}

const lines = [];
const total = { passed: 0, failed: 0, expected: 0 };

function report(label, scored, run, notScored = []) {
  const count = { passed: 0, failed: 0, expected: 0, stale: 0, missing: 0 };
  const problems = [];
  for (const scenario of scored) {
    const checks = run.get(scenario);
    if (!checks) {
      count.missing++;
      problems.push(`    ✗ ${scenario}: no result`);
      continue;
    }
    const v = verdict(scenario, checks);
    count[v]++;
    if (v === 'failed') problems.push(`    ✗ ${scenario}`);
    if (v === 'stale') problems.push(`    ✗ ${scenario}: listed as an expected failure, but passes`);
    if (v === 'expected') {
      const only = expected.checks.get(scenario);
      problems.push(`    ~ ${scenario} (expected failure${only ? `: ${[...only].join(', ')}` : ''})`);
    }
  }
  const failed = count.failed + count.stale + count.missing;
  lines.push(
    `${label}: ${count.passed} passed, ${failed} failed` +
      (count.expected ? `, ${count.expected} expected failures` : '') +
      ` (of ${scored.length} scored scenarios)`,
  );
  lines.push(...problems);
  const unscored = notScored.filter((s) => run.has(s));
  if (unscored.length > 0) {
    const outcome = (s) => {
      const checks = run.get(s);
      const v = verdict(s, checks);
      if (v === 'expected') return 'fails, as expected';
      if (v !== 'passed') return 'fails';
      return checks.some((c) => c.status === 'SUCCESS') ? 'passes' : 'not applicable';
    };
    const note = unscored.map((s) => `${s} ${outcome(s)}`);
    lines.push(`    not scored for this revision (run for information): ${note.join('; ')}`);
  }
  total.passed += count.passed;
  total.failed += failed;
  total.expected += count.expected;
}

for (const revision of ['2025-11-25', '2026-07-28']) {
  const req = requirements(revision);
  const notScored = (req.not_scored ?? []).filter((e) => e.leg === 'server').map((e) => e.scenario);
  report(`server ${revision}`, req.server, results(join(values.results, `server-${revision}`), 'server'), notScored);
}
const authorization = results(join(values.results, 'authorization'), 'authorization-server');
report('authorization server', ['authorization-server-metadata-endpoint', 'authorization-code-grant'], authorization);

if (total.expected > 0) {
  lines.push(`expected failures (listed in ${relative(process.cwd(), values['expected-failures'])}): ${total.expected}`);
}
// The plain line CI reads comes last.
lines.push(`${total.passed} passed, ${total.failed} failed`);
const text = `${lines.join('\n')}\n`;
writeFileSync(join(values.results, 'summary.txt'), text);
process.stdout.write(text);
process.exit(total.failed > 0 ? 1 : 0);
