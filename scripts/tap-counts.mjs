// Reads a tap run's output and prints the closing line CI looks for: "N passed, N failed".
// tap ends its output with a summary such as `# { total: 812, pass: 809, fail: 1, skip: 2 }`; skips are
// reported on their own line and counted as neither (under POSTJOIN_REQUIRE_REAL=1 there should be none).
//   node scripts/tap-counts.mjs LOG [EXTRA_FAILED]
import { readFileSync } from 'node:fs';

const [log, extra = '0'] = process.argv.slice(2);
const text = readFileSync(log, 'utf8');
const summaries = [...text.matchAll(/^# \{ ([^}]*) \}$/gm)];
const last = summaries.at(-1)?.[1];
let passed = 0;
let failed = Number(extra);
if (!last) {
  console.log('tap printed no summary; the test run did not complete');
  failed += 1;
} else {
  const counts = Object.fromEntries(last.split(',').map((kv) => kv.trim().split(': ')).map(([k, v]) => [k, Number(v)]));
  passed = (counts.pass ?? 0) - (counts.skip ?? 0) - (counts.todo ?? 0);
  failed += counts.fail ?? 0;
  if (counts.skip) console.log(`${counts.skip} skipped`);
  if (counts.todo) console.log(`${counts.todo} todo`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
