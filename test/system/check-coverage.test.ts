// scripts/check-coverage.mjs, the threshold check after the tests, checked itself. tap's coverage-exclude globs are
// expanded when tap starts, so a file a test builds later under dist/ (npm start's dist/demo-world.cjs on a fresh
// clone) was counted as 9,326 lines of 39% coverage and failed CI at 66% with every test passing. The thresholds are
// about src/: the check sums src/ files only and names anything else the summary holds.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/cli.js';

const SCRIPT = join(ROOT, 'scripts/check-coverage.mjs');

type Counts = { total: number; covered: number };
function entry(lines: Counts, branches: Counts, functions: Counts) {
  const m = (c: Counts) => ({ ...c, skipped: 0, pct: c.total ? Math.round((c.covered / c.total) * 10000) / 100 : 100 });
  return { lines: m(lines), statements: m(lines), functions: m(functions), branches: m(branches) };
}

async function checkSummary(t: { teardown(fn: () => unknown): void }, root: string, files: Record<string, ReturnType<typeof entry>>) {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-coverage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sum = (k: 'lines' | 'branches' | 'functions' | 'statements') => {
    const total = Object.values(files).reduce((a, f) => a + f[k].total, 0);
    const covered = Object.values(files).reduce((a, f) => a + f[k].covered, 0);
    return { total, covered, skipped: 0, pct: Math.round((covered / total) * 10000) / 100 };
  };
  const summary = { total: { lines: sum('lines'), statements: sum('statements'), functions: sum('functions'), branches: sum('branches') }, ...files };
  const file = join(dir, 'coverage-summary.json');
  await writeFile(file, JSON.stringify(summary));
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [SCRIPT, '--summary', file, '--root', root], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

t.test('a bundle built under dist/ during the tests does not count against src/', async (t) => {
  const root = '/repo';
  const r = await checkSummary(t, root, {
    '/repo/src/a.ts': entry({ total: 100, covered: 98 }, { total: 20, covered: 19 }, { total: 10, covered: 10 }),
    '/repo/src/b/c.ts': entry({ total: 50, covered: 49 }, { total: 10, covered: 9 }, { total: 5, covered: 5 }),
    '/repo/dist/demo-world.cjs': entry({ total: 9326, covered: 3672 }, { total: 600, covered: 200 }, { total: 500, covered: 100 }),
  });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /coverage lines\s+98%/, 'lines over src/ only: 147 of 150');
  t.match(r.stdout, /coverage branches\s+93\.33%/, 'branches over src/ only: 28 of 30');
  t.match(r.stderr, /not counted.*dist\/demo-world\.cjs/, 'the file left out is named');
});

t.test('src/ below a threshold still fails, naming the metric', async (t) => {
  const r = await checkSummary(t, '/repo', {
    '/repo/src/a.ts': entry({ total: 100, covered: 50 }, { total: 20, covered: 19 }, { total: 10, covered: 10 }),
  });
  t.equal(r.code, 1);
  t.match(r.stdout, /coverage lines\s+50%.*below threshold/);
  t.match(r.stderr, /below the thresholds/);
});

t.test('a summary with no src/ file is an error, not 100%', async (t) => {
  const r = await checkSummary(t, '/repo', {
    '/repo/dist/x.cjs': entry({ total: 10, covered: 10 }, { total: 1, covered: 1 }, { total: 1, covered: 1 }),
  });
  t.equal(r.code, 1);
  t.match(r.stderr, /no file under src\//);
});
