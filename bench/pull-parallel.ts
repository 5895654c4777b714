// Wall time of a pull task for 8 images: concurrency 1 against concurrency 4 against the slowest single pull,
// measured in one run against a registry that is the bottleneck per image (a slow proxy in front of the real
// docker-registry: fixed latency per request and a bandwidth cap per connection, as a remote registry behaves).
//
//   node --import @tapjs/typescript/import bench/pull-parallel.ts [--rate MiB/s] [--latency ms] [--json FILE]
//       [--concurrency 1,4] [--scenarios mixed-first,mixed-last,uniform] [--uniform-mib 4] [--repeat 1]
//
// The defaults are the measurement of docs/pull.md. The benchmark suite (bench/p4-pull.ts) asks for
// concurrency 1, 4 and 8 on the uniform set, repeated, for a median with its spread.
//
// Needs root, containerd, docker-registry and skopeo (like the real-component tests). Every measurement gets a
// fresh containerd, so nothing is ever already present.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { startSlowProxy } from '../test/emulators/slow-proxy.js';
import { buildAndPush, removeDir, startContainerd, startRegistry, tempDir, writePlainHttpHosts, type PushedImage } from '../test/harness/index.js';
import { runTasks } from '../test/helpers/pull.js';

const MiB = 1 << 20;
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '4' },
    latency: { type: 'string', default: '50' },
    json: { type: 'string' },
    concurrency: { type: 'string', default: '1,4' },
    scenarios: { type: 'string', default: 'mixed-first,mixed-last,uniform' },
    'uniform-mib': { type: 'string', default: '4' },
    repeat: { type: 'string', default: '1' },
  },
});
const rate = Number(values.rate) * MiB;
const latencyMs = Number(values.latency);
const concurrencies = values.concurrency.split(',').map(Number);
const wanted = new Set(values.scenarios.split(','));
const repeat = Number(values.repeat);

/** A node's typical set: one large application image and seven smaller sidecars and agents. */
const MIXED = [16, 6, 5, 4, 3, 3, 2, 2];
const UNIFORM = Array.from({ length: 8 }, () => Number(values['uniform-mib']));

interface Measurement {
  scenario: string;
  order: string;
  repetition: number;
  sizesMiB: number[];
  /** Wall time of the pull task per concurrency ("1", "4", "8"). */
  byConcurrencyMs: Record<string, number>;
  /** Each concurrency's wall time over the slowest single pull's. */
  ratioToSlowest: Record<string, number>;
  serialMs?: number;
  parallel4Ms?: number;
  slowestSingleMs: number;
  slowestInSerialMs?: number;
  /** c=4 ÷ slowest single, as docs/pull.md reports it. */
  ratio?: number;
}

const work = await tempDir('bench');
const reg = await startRegistry();
const proxy = await startSlowProxy({ target: reg.host, latencyMs, bytesPerSecond: rate });
const results: Measurement[] = [];
try {
  let index = 0;
  const build = async (sizes: number[], tag: string) =>
    buildAndPush(work, reg, sizes.map((mib, i) => ({ name: `bench/img${i}`, tag, index: 1000 + index++, sizeBytes: mib * MiB })));
  const mixed = wanted.has('mixed-first') || wanted.has('mixed-last') ? await build(MIXED, 'mixed') : [];
  const uniform = wanted.has('uniform') ? await build(UNIFORM, 'uniform') : [];

  const scenarios: [string, string, string, PushedImage[], number[]][] = [
    ['mixed-first', 'mixed', 'largest first', mixed, MIXED],
    ['mixed-last', 'mixed', 'largest last', [...mixed].reverse(), [...MIXED].reverse()],
    ['uniform', 'uniform', 'any', uniform, UNIFORM],
  ];
  for (let repetition = 1; repetition <= repeat; repetition++) {
    for (const [key, scenario, order, images, sizes] of scenarios) {
      if (!wanted.has(key)) continue;
      const refs = images.map((i) => i.ref.replace(reg.host, proxy.host));
      const runs = new Map<number, { ms: number; perImage: number[] }>();
      for (const c of concurrencies) runs.set(c, await pull(refs, c));
      const largest = refs[sizes.indexOf(Math.max(...sizes))]!;
      const single = await pull([largest], 1);
      const byConcurrencyMs = Object.fromEntries([...runs].map(([c, r]) => [String(c), r.ms]));
      const ratioToSlowest = Object.fromEntries([...runs].map(([c, r]) => [String(c), Math.round((r.ms / single.ms) * 100) / 100]));
      const m: Measurement = {
        scenario,
        order,
        repetition,
        sizesMiB: sizes,
        byConcurrencyMs,
        ratioToSlowest,
        ...(runs.has(1) ? { serialMs: runs.get(1)!.ms, slowestInSerialMs: Math.max(...runs.get(1)!.perImage) } : {}),
        ...(runs.has(4) ? { parallel4Ms: runs.get(4)!.ms, ratio: ratioToSlowest['4'] } : {}),
        slowestSingleMs: single.ms,
      };
      results.push(m);
      const each = concurrencies.map((c) => `c=${c} ${fmt(byConcurrencyMs[String(c)]!)}`).join('  ');
      const ratios = concurrencies.filter((c) => c > 1).map((c) => `c=${c}/slowest ${ratioToSlowest[String(c)]!.toFixed(2)}x`).join('  ');
      process.stdout.write(
        `${scenario.padEnd(8)} ${order.padEnd(14)} ${each}  slowest single ${fmt(m.slowestSingleMs)}` +
          `${m.slowestInSerialMs !== undefined ? ` (in the serial run ${fmt(m.slowestInSerialMs)})` : ''}  ${ratios}\n`,
      );
    }
  }
  process.stdout.write(`proxy: ${latencyMs} ms per request, ${values.rate} MiB/s per connection; ${proxy.stats.connections} connections, at most ${proxy.stats.maxActive} at once\n`);
  if (values.json) {
    await mkdir(dirname(values.json), { recursive: true });
    const proxyStats = { connections: proxy.stats.connections, maxActive: proxy.stats.maxActive };
    await writeFile(values.json, `${JSON.stringify({ latencyMs, bytesPerSecond: rate, concurrencies, proxy: proxyStats, results }, null, 2)}\n`);
  }
} finally {
  await proxy.close();
  await reg.stop();
  await removeDir(work);
}

/** One pull task on a fresh containerd; the time is the task's own (from its summary record). */
async function pull(refs: string[], concurrency: number): Promise<{ ms: number; perImage: number[] }> {
  const ctd = await startContainerd();
  try {
    await writePlainHttpHosts(ctd.hostsDir, proxy.host);
    const run = await runTasks(`  - name: bench\n    pull: { images: ${JSON.stringify(refs)}, concurrency: ${concurrency} }\n`, { socket: ctd.socket });
    if (run.exitCode !== 0) throw new Error(`pull failed: ${run.message}`);
    const summary = run.records.find((r) => typeof r.images === 'number');
    return { ms: Number(summary?.duration_ms), perImage: run.images.map((r) => Number(r.duration_ms)) };
  } finally {
    await ctd.stop();
  }
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`.padStart(7);
}
