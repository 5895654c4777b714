// The benchmark suite's orchestrator (`npm run bench [-- --quick] [-- --only p1,p6] [-- --profile] [-- --baseline DIR]`): builds
// what it measures, runs each benchmark as a process of its own (one at a time: they all measure time on the
// same 2 cores), and writes the results with the machine they ran on. A full run writes bench/results.json and bench/results.md
// (committed); a quick or partial run writes bench/out/results.{json,md} (not committed). --baseline DIR names
// a directory of artifacts kept from an earlier commit (postjoin-linux-x64 and its sea-manifest.json): P1, P3
// and P5 measure that single executable too, in the same run, as the "before" of each goal figure.
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, SEA_X64, BUNDLE, cleanEnv, exec, execOk, log, machine, round, type Machine } from './lib/common.js';
import { goals, renderMarkdown, type Goal } from './lib/report.js';
import { embeddedNodeVersion } from './lib/sea.js';

export interface BenchRecord {
  id: string;
  title: string;
  status: 'ok' | 'failed' | 'skipped';
  seconds: number;
  note?: string;
  result?: Record<string, unknown>;
}

export interface Results {
  mode: 'full' | 'quick';
  startedAt: string;
  totalSeconds: number;
  machine: Machine & { loadAverageAtEnd: number[]; embeddedNode: string };
  /** The --baseline directory, when one was measured beside today's build. */
  baseline?: string;
  sizes: Record<string, number | string | boolean>;
  benchmarks: Record<string, BenchRecord>;
  goals?: Goal[];
}

const BENCHMARKS: { id: string; title: string; file: string; sea?: boolean; timeoutS: number }[] = [
  { id: 'p1', title: 'cold start', file: 'p1-cold-start.js', sea: true, timeoutS: 300 },
  { id: 'p2', title: 'readiness reaction', file: 'p2-readiness.js', timeoutS: 300 },
  { id: 'p3', title: 'per-task overhead', file: 'p3-per-task.js', sea: true, timeoutS: 300 },
  { id: 'p4', title: 'parallel pre-pull', file: 'p4-pull.js', timeoutS: 300 },
  { id: 'p5', title: 'memory', file: 'p5-memory.js', sea: true, timeoutS: 180 },
  { id: 'p6', title: 'fleet simulation', file: 'p6-fleet.js', timeoutS: 420 },
];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    // P3 also profiles a 100-task run (its own log and a CPU profile): where the per-task time goes.
    profile: { type: 'boolean', default: false },
    baseline: { type: 'string' },
  },
});
const baseline = values.baseline ? resolve(values.baseline) : undefined;
if (baseline && !existsSync(join(baseline, 'postjoin-linux-x64'))) {
  log(`bench: --baseline ${baseline} holds no postjoin-linux-x64`);
  process.exit(2);
}
const quick = values.quick === true;
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;
const partial = quick || only !== undefined;
const started = Date.now();
const startedAt = new Date(started).toISOString();
const m = machine();
log(`bench: ${quick ? 'quick' : 'full'} run on ${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}; load average ${m.loadAverage.join(' ')}`);

const outDir = join(ROOT, 'bench/out');
await mkdir(outDir, { recursive: true });

// What is measured is built here, so a fresh clone needs only `npm ci`. The single executable takes minutes
// the first time (Node 22 from the npm registry, a code cache per arch) and is cached after that; a quick run
// never builds it, and measures it only when one is already there.
let sea = false;
let seaNote: string | undefined;
if (!values['no-build']) {
  log('bench: npm run build');
  await execOk('npm', ['run', 'build', '--silent'], { env: cleanEnv(), timeoutMs: 300_000 });
}
if (!values['no-build'] && !quick) {
  log('bench: single executables (packaging/sea/build-sea.mjs; cached when up to date)');
  const r = await exec(process.execPath, [join(ROOT, 'packaging/sea/build-sea.mjs')], { env: cleanEnv(), timeoutMs: 900_000 });
  if (r.code === 0) sea = true;
  else seaNote = `single executable build failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`;
} else if (existsSync(SEA_X64)) {
  // Quick: the x64 one only, and only when it is already built (build-sea.mjs is a no-op when up to date).
  const r = await exec(process.execPath, [join(ROOT, 'packaging/sea/build-sea.mjs'), '--arch', 'x64'], { env: cleanEnv(), timeoutMs: 600_000 });
  sea = r.code === 0;
  if (!sea) seaNote = `single executable rebuild failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`;
} else seaNote = 'no single executable built yet, so its rows are skipped in a quick run (npm run build:sea, or a full npm run bench)';
if (seaNote) log(`bench: ${seaNote}`);

const benchmarks: Record<string, BenchRecord> = {};
for (const b of BENCHMARKS) {
  if (only && !only.has(b.id)) continue;
  const json = join(outDir, `${b.id}.json`);
  const argv = [
    join(outDir, b.file),
    ...['--json', json],
    ...(quick ? ['--quick'] : []),
    ...(b.sea && !sea ? ['--no-sea'] : []),
    ...(b.sea && baseline ? ['--baseline', baseline] : []),
    ...(b.id === 'p3' && values.profile ? ['--profile'] : []),
  ];
  log(`bench: ${b.id} ${b.title}`);
  const t0 = Date.now();
  const child = await runInherited(process.execPath, ['--enable-source-maps', ...argv], b.timeoutS * 1000);
  const seconds = round((Date.now() - t0) / 1000, 1);
  const rec: BenchRecord = { id: b.id, title: b.title, status: child === 0 ? 'ok' : 'failed', seconds };
  if (child === 0) rec.result = JSON.parse(await readFile(json, 'utf8')) as Record<string, unknown>;
  else if (child === 77) {
    rec.status = 'skipped';
    rec.note = existsSync(json) ? ((JSON.parse(await readFile(json, 'utf8')) as { skipped?: string }).skipped ?? 'skipped') : 'skipped';
  } else rec.note = child === null ? `timed out after ${b.timeoutS} s` : `exited ${child}`;
  if (b.sea && !sea && seaNote) rec.note = [rec.note, seaNote].filter(Boolean).join('; ');
  benchmarks[b.id] = rec;
  log(`bench: ${b.id} ${rec.status} in ${seconds} s`);
}

const sizes: Results['sizes'] = { bundleBytes: statSync(BUNDLE).size };
for (const arch of ['x64', 'arm64'] as const) {
  const file = join(ROOT, `dist/postjoin-linux-${arch}`);
  if (existsSync(file)) sizes[`sea${arch === 'x64' ? 'X64' : 'Arm64'}Bytes`] = statSync(file).size;
}
try {
  const manifest = JSON.parse(await readFile(join(ROOT, 'dist/sea-manifest.json'), 'utf8')) as { arches: Record<string, { snapshot?: boolean }> };
  for (const [arch, e] of Object.entries(manifest.arches)) sizes[`sea${arch === 'x64' ? 'X64' : 'Arm64'}Snapshot`] = e.snapshot === true;
} catch {
  // no single executable built
}

const results: Results = {
  mode: quick ? 'quick' : 'full',
  startedAt,
  totalSeconds: round((Date.now() - started) / 1000, 1),
  machine: { ...m, loadAverageAtEnd: machine().loadAverage, embeddedNode: embeddedNodeVersion() },
  ...(baseline ? { baseline } : {}),
  sizes,
  benchmarks,
};
results.goals = goals(results);
const base = partial ? join(outDir, 'results') : join(ROOT, 'bench/results');
await writeFile(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
await writeFile(`${base}.md`, renderMarkdown(results));
process.stdout.write(renderMarkdown(results));
log(`bench: done in ${results.totalSeconds} s; wrote ${base}.json and ${base}.md`);
process.exitCode = Object.values(benchmarks).some((b) => b.status === 'failed') ? 1 : 0;

/** A benchmark's own progress goes to our stderr as it happens. Resolves to its exit code, or null on timeout. */
async function runInherited(cmd: string, args: string[], timeoutMs: number): Promise<number | null> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: cleanEnv(), detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // Its own process group: the benchmark and whatever it started (a hung measured command included).
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(timedOut ? null : code);
    });
  });
}
