// tap 21 has no coverage thresholds of its own (it wants 100% or nothing), so this enforces ours on the
// json-summary tap writes, and says which metric fell short and by how much.
//
// The thresholds are about src/, so the totals are summed over src/ files only. tap expands its coverage-exclude
// globs when it starts, so a file a test builds later (dist/demo-world.cjs on a fresh clone) would otherwise count;
// anything left out is named on stderr.
//   node scripts/check-coverage.mjs [--summary FILE] [--root DIR]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { summary: { type: 'string' }, root: { type: 'string' } } });
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const thresholds = pkg.coverageThresholds;
const root = (values.root ?? fileURLToPath(new URL('..', import.meta.url))).replace(/\/?$/, '/');
const file = values.summary ?? fileURLToPath(new URL('../.tap/report/coverage-summary.json', import.meta.url));
let summary;
try {
  summary = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`coverage: cannot read ${file} (${err.message}); did the tests run with coverage?`);
  process.exit(1);
}
const inSrc = (path) => path.startsWith(`${root}src/`);
const files = Object.keys(summary).filter((k) => k !== 'total');
const left = files.filter((f) => !inSrc(f));
if (left.length) console.error(`coverage: not counted (outside src/): ${left.map((f) => f.replace(root, '')).join(', ')}`);
const src = files.filter(inSrc);
if (!src.length) {
  console.error(`coverage: no file under src/ in ${file}; did the tests run with coverage?`);
  process.exit(1);
}
let failed = false;
for (const [metric, min] of Object.entries(thresholds)) {
  const total = src.reduce((a, f) => a + (summary[f][metric]?.total ?? 0), 0);
  const covered = src.reduce((a, f) => a + (summary[f][metric]?.covered ?? 0), 0);
  const pct = total ? Math.round((covered / total) * 10000) / 100 : 100;
  const ok = pct >= min;
  if (!ok) failed = true;
  console.log(`coverage ${metric.padEnd(10)} ${String(pct).padStart(6)}%  (threshold ${min}%)${ok ? '' : '  <-- below threshold'}`);
}
if (failed) {
  console.error('coverage: below the thresholds in package.json "coverageThresholds"; add tests for the uncovered code');
  process.exit(1);
}
