// Wall time of a pull task for 8 images: concurrency 1 against concurrency 4 against the slowest single pull,
// measured in one run against a registry that is the bottleneck per image (a slow proxy in front of the real
// docker-registry: fixed latency per request and a bandwidth cap per connection, as a remote registry behaves).
//
//   node --import @tapjs/typescript/import bench/pull-parallel.ts [--rate MiB/s] [--latency ms] [--json FILE]
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
const { values } = parseArgs({ options: { rate: { type: 'string', default: '4' }, latency: { type: 'string', default: '50' }, json: { type: 'string' } } });
const rate = Number(values.rate) * MiB;
const latencyMs = Number(values.latency);

/** A node's typical set: one large application image and seven smaller sidecars and agents. */
const MIXED = [16, 6, 5, 4, 3, 3, 2, 2];
const UNIFORM = [4, 4, 4, 4, 4, 4, 4, 4];

interface Measurement {
  scenario: string;
  order: string;
  sizesMiB: number[];
  serialMs: number;
  parallel4Ms: number;
  slowestSingleMs: number;
  slowestInSerialMs: number;
  ratio: number;
}

const work = await tempDir('bench');
const reg = await startRegistry();
const proxy = await startSlowProxy({ target: reg.host, latencyMs, bytesPerSecond: rate });
const results: Measurement[] = [];
try {
  let index = 0;
  const build = async (sizes: number[], tag: string) =>
    buildAndPush(work, reg, sizes.map((mib, i) => ({ name: `bench/img${i}`, tag, index: 1000 + index++, sizeBytes: mib * MiB })));
  const mixed = await build(MIXED, 'mixed');
  const uniform = await build(UNIFORM, 'uniform');

  const scenarios: [string, string, PushedImage[], number[]][] = [
    ['mixed', 'largest first', mixed, MIXED],
    ['mixed', 'largest last', [...mixed].reverse(), [...MIXED].reverse()],
    ['uniform', 'any', uniform, UNIFORM],
  ];
  for (const [scenario, order, images, sizes] of scenarios) {
    const refs = images.map((i) => i.ref.replace(reg.host, proxy.host));
    const serial = await pull(refs, 1);
    const parallel = await pull(refs, 4);
    const largest = refs[sizes.indexOf(Math.max(...sizes))]!;
    const single = await pull([largest], 1);
    const m: Measurement = {
      scenario,
      order,
      sizesMiB: sizes,
      serialMs: serial.ms,
      parallel4Ms: parallel.ms,
      slowestSingleMs: single.ms,
      slowestInSerialMs: Math.max(...serial.perImage),
      ratio: Math.round((parallel.ms / single.ms) * 100) / 100,
    };
    results.push(m);
    process.stdout.write(
      `${scenario.padEnd(8)} ${order.padEnd(14)} c=1 ${fmt(m.serialMs)}  c=4 ${fmt(m.parallel4Ms)}  slowest single ${fmt(m.slowestSingleMs)}` +
        ` (in the serial run ${fmt(m.slowestInSerialMs)})  c=4/slowest ${m.ratio.toFixed(2)}x\n`,
    );
  }
  process.stdout.write(`proxy: ${latencyMs} ms per request, ${values.rate} MiB/s per connection; ${proxy.stats.connections} connections, at most ${proxy.stats.maxActive} at once\n`);
  if (values.json) {
    await mkdir(dirname(values.json), { recursive: true });
    await writeFile(values.json, `${JSON.stringify({ latencyMs, bytesPerSecond: rate, results }, null, 2)}\n`);
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
