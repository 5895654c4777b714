// tap 21 has no coverage thresholds of its own (it wants 100% or nothing), so this enforces ours on the
// json-summary tap writes, and says which metric fell short and by how much.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const thresholds = pkg.coverageThresholds;
const file = new URL('../.tap/report/coverage-summary.json', import.meta.url);
let total;
try {
  total = JSON.parse(readFileSync(file, 'utf8')).total;
} catch (err) {
  console.error(`coverage: cannot read ${file.pathname} (${err.message}); did the tests run with coverage?`);
  process.exit(1);
}
let failed = false;
for (const [metric, min] of Object.entries(thresholds)) {
  const pct = total[metric]?.pct ?? 0;
  const ok = pct >= min;
  if (!ok) failed = true;
  console.log(`coverage ${metric.padEnd(10)} ${String(pct).padStart(6)}%  (threshold ${min}%)${ok ? '' : '  <-- below threshold'}`);
}
if (failed) {
  console.error('coverage: below the thresholds in package.json "coverageThresholds"; add tests for the uncovered code');
  process.exit(1);
}
