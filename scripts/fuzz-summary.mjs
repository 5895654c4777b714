// Prints what `npm run fuzz` ran: cases and time per property and per parser, from the report the property
// harness (test/helpers/properties/harness.ts) appends to when FUZZ_REPORT is set.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.tap/fuzz-report.jsonl';
let rows;
try {
  rows = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
} catch (err) {
  console.error(`fuzz summary: cannot read ${file}: ${err.message}`);
  process.exit(1);
}
const byParser = new Map();
console.log('\nparser     cases      time    slowest         seed  result  property');
for (const r of rows) {
  const p = byParser.get(r.parser) ?? { cases: 0, ms: 0, failed: 0 };
  p.cases += r.runs;
  p.ms += r.ms;
  p.failed += r.failure ? 1 : 0;
  byParser.set(r.parser, p);
  const line = `${r.parser.padEnd(9)} ${String(r.runs).padStart(7)} ${(r.ms / 1000).toFixed(1).padStart(8)}s ${String(r.slowestMs).padStart(7)}ms ${String(r.seed).padStart(12)}  ${r.failure ? 'FAIL  ' : 'ok    '}  ${r.name}`;
  console.log(line);
  if (r.failure) {
    console.log(`          ${r.failure.split('\n')[0]}${r.savedAs ? ` (saved as ${r.savedAs})` : ''}`);
    if (r.replay) console.log(`          replay: ${r.replay}`);
  }
}
console.log('\nparser     cases      time  failed properties');
for (const [parser, p] of byParser) console.log(`${parser.padEnd(9)} ${String(p.cases).padStart(7)} ${(p.ms / 1000).toFixed(1).padStart(8)}s  ${p.failed}`);
