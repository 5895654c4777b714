// P4 parallel pre-pull: 8 distinct images from a real docker-registry behind the slow proxy (50 ms per request,
// 4 MiB/s per connection, as a remote registry serves one connection), pulled by one pull task into a fresh
// real containerd with concurrency 1, 4 and 8, against the slowest single pull of the set. This runs the pull
// engineer's bench/pull-parallel.ts with the suite's settings: its uniform set (every image the same size, so
// the slowest single pull is one image's time and the ideal c=8 ratio is 1.0), repeated for a median.
//
//   node bench/out/p4-pull.js [--quick] [--json FILE]        (root, containerd, docker-registry, skopeo)
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, cleanEnv, log, round, stats, which, writeResult } from './lib/common.js';

const args = benchArgs();
const settings = args.quick ? { mib: '1', repeat: '1' } : { mib: '4', repeat: '3' };
const concurrencies = [1, 4, 8];

const missing = ['containerd', 'ctr', 'docker-registry', 'skopeo'].filter((b) => !which(b));
if (process.getuid?.() !== 0) missing.push('root');
if (missing.length) {
  await writeResult(args.json, { skipped: `needs ${missing.join(', ')} (Debian: apt-get install containerd docker-registry skopeo; run as root)` });
  log(`p4: skipped: needs ${missing.join(', ')}`);
  process.exit(77);
}

const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-p4-'));
try {
  const json = join(dir, 'pull.json');
  const script = fileURLToPath(new URL('pull-parallel.js', import.meta.url));
  const argv = [script, '--scenarios', 'uniform', '--uniform-mib', settings.mib, '--repeat', settings.repeat, '--concurrency', concurrencies.join(','), '--json', json];
  log(`p4: bench/pull-parallel.ts ${argv.slice(1).join(' ')}`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', ...argv], { stdio: ['ignore', 'inherit', 'inherit'], env: cleanEnv() });
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`bench/pull-parallel.ts exited ${code}`);
  const raw = JSON.parse(await readFile(json, 'utf8')) as {
    latencyMs: number;
    bytesPerSecond: number;
    proxy: { connections: number; maxActive: number };
    results: { byConcurrencyMs: Record<string, number>; ratioToSlowest: Record<string, number>; slowestSingleMs: number; sizesMiB: number[] }[];
  };
  const rows = Object.fromEntries(
    concurrencies.map((c) => [
      `c=${c}`,
      { wallMs: stats(raw.results.map((r) => r.byConcurrencyMs[String(c)]!), 0), ratioToSlowest: stats(raw.results.map((r) => r.ratioToSlowest[String(c)]!), 2) },
    ]),
  );
  const result = {
    images: 8,
    imageMiB: Number(settings.mib),
    repetitions: Number(settings.repeat),
    proxy: { latencyMsPerRequest: raw.latencyMs, mibPerSecondPerConnection: round(raw.bytesPerSecond / 2 ** 20, 1), ...raw.proxy },
    slowestSingleMs: stats(raw.results.map((r) => r.slowestSingleMs), 0),
    rows,
    raw: raw.results,
  };
  for (const [k, v] of Object.entries(rows)) log(`p4: ${k}: ${v.wallMs.median} ms, ${v.ratioToSlowest.median}x the slowest single pull (${v.ratioToSlowest.min}-${v.ratioToSlowest.max})`);
  await writeResult(args.json, result);
} finally {
  await rm(dir, { recursive: true, force: true });
}
