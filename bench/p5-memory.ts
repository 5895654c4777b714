// P5 memory: peak RSS (GNU time -v, "Maximum resident set size") of a 20-task `run` on the file source, and of
// `plan` on the DescribeInstances path (IMDS emulator with tags not in metadata, EC2 emulator, dummy
// credentials), each beside `node -e 0` of the same Node in the same run, and with --baseline DIR beside the
// single executable kept in DIR. The plan's CPU time is kept too: it is what one simulated node of P6 would
// cost as a process of its own.
//
//   node bench/out/p5-memory.js [--quick] [--no-sea] [--baseline DIR] [--json FILE]
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEc2Server } from '../test/emulators/ec2-server.js';
import { startImdsServer } from '../test/emulators/imds-server.js';
import { baselineSea, evictFromPageCache, strippedNodePath } from './lib/sea.js';
import { BUNDLE, SEA_X64, benchArgs, cleanEnv, log, median, round, stats, timeV, writeResult, type TimeV } from './lib/common.js';

const args = benchArgs({ 'no-sea': { type: 'boolean', default: false }, baseline: { type: 'string' } });
const repeats = args.quick ? 1 : 3;
const INSTANCE = 'i-0b0e0f0a0c0d01234';

const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-p5-'));
const imds = await startImdsServer({ instanceId: INSTANCE, region: 'us-east-1', tagsInMetadata: false });
const tags = {
  'postjoin:10-prepull': 'pull public.ecr.aws/eks-distro/kubernetes/pause:3.9 public.ecr.aws/docker/library/busybox:1.36',
  'postjoin:20-agent': 'unit restart amazon-cloudwatch-agent.service',
  'postjoin:30-wait': 'wait url http://127.0.0.1:4317/',
  Name: 'bench-node',
};
const ec2 = await startEc2Server({ instances: { [INSTANCE]: tags } });
try {
  await mkdir(join(dir, 'tasks.d'));
  const tasks = Array.from({ length: 20 }, (_, i) => `  - { name: t${String(i).padStart(2, '0')}, once: false, exec: { command: /bin/true } }`).join('\n');
  await writeFile(join(dir, 'tasks.d', '10.yaml'), `apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n${tasks}\n`);
  const fileConfig = join(dir, 'file.yaml');
  await writeFile(fileConfig, `sources: [file]\ntasksDir: ${dir}/tasks.d\nimds: { enabled: false }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\n`);
  const tagsConfig = join(dir, 'tags.yaml');
  // A unit task from tags needs policy.units to name it (issue 11).
  await writeFile(tagsConfig, `sources: [tags]\nimds: { enabled: true, budget: 30s }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\npolicy: { units: [amazon-cloudwatch-agent.service] }\n`);
  // Never the real IMDS or EC2: both endpoints are the emulators, the credentials are dummies, and no
  // config file from this machine's ~/.aws is read.
  const awsEnv = cleanEnv({
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
    AWS_ENDPOINT_URL_EC2: ec2.url,
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  });

  const node22 = args.values['no-sea'] ? undefined : strippedNodePath('x64');
  const sea = node22 && existsSync(SEA_X64) ? SEA_X64 : undefined;
  const cases: { name: string; argv: string[]; env?: NodeJS.ProcessEnv; check?: (r: TimeV) => void }[] = [
    { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { name: 'bundle run, 20 tasks', argv: [process.execPath, BUNDLE, 'run', '--config', fileConfig, '--state-dir', join(dir, 'state-bundle')] },
    { name: 'bundle plan, DescribeInstances', argv: [process.execPath, BUNDLE, 'plan', '--config', tagsConfig, '--output', 'json'], env: awsEnv, check: planHasTags },
  ];
  if (sea && node22) {
    cases.push(
      { name: 'node22 -e 0', argv: [node22, '-e', '0'] },
      { name: 'sea run, 20 tasks', argv: [sea, 'run', '--config', fileConfig, '--state-dir', join(dir, 'state-sea')] },
      { name: 'sea plan, DescribeInstances', argv: [sea, 'plan', '--config', tagsConfig, '--output', 'json'], env: awsEnv, check: planHasTags },
    );
  }
  const before = node22 ? baselineSea(args.values.baseline as string | undefined) : {};
  if (before.path) {
    cases.push(
      { name: 'before run, 20 tasks', argv: [before.path, 'run', '--config', fileConfig, '--state-dir', join(dir, 'state-before')] },
      { name: 'before plan, DescribeInstances', argv: [before.path, 'plan', '--config', tagsConfig, '--output', 'json'], env: awsEnv, check: planHasTags },
    );
  }
  // Every executable from the same page-cache state (lib/sea.ts says why).
  evictFromPageCache([node22, sea, before.path]);

  const samples = new Map<string, TimeV[]>(cases.map((c) => [c.name, []]));
  // Interleaved: each repeat runs every case once, so load changes hit all of them alike.
  for (let i = 0; i < repeats; i++) {
    for (const c of cases) {
      const r = await timeV(c.argv, c.env ?? cleanEnv());
      if (r.code !== 0) throw new Error(`${c.name} exited ${r.code}: ${r.stderr.slice(-1500)}`);
      c.check?.(r);
      samples.get(c.name)!.push(r);
    }
  }
  const mb = (kib: number) => round(kib / 1024, 1);
  const rows = Object.fromEntries(
    [...samples].map(([name, rs]) => [
      name,
      { maxRssMB: stats(rs.map((r) => mb(r.maxRssKiB))), cpuMs: stats(rs.map((r) => (r.userS + r.sysS) * 1000), 0), wallMs: stats(rs.map((r) => r.wallS * 1000), 0) },
    ]),
  );
  const rss = (name: string) => median(samples.get(name)!.map((r) => r.maxRssKiB));
  const ratios: Record<string, number> = {
    'bundle run, 20 tasks': round(rss('bundle run, 20 tasks') / rss('node -e 0')),
    'bundle plan, DescribeInstances': round(rss('bundle plan, DescribeInstances') / rss('node -e 0')),
  };
  if (sea) {
    ratios['sea run, 20 tasks'] = round(rss('sea run, 20 tasks') / rss('node22 -e 0'));
    ratios['sea plan, DescribeInstances'] = round(rss('sea plan, DescribeInstances') / rss('node22 -e 0'));
  }
  if (before.path) {
    ratios['before run, 20 tasks'] = round(rss('before run, 20 tasks') / rss('node22 -e 0'));
    ratios['before plan, DescribeInstances'] = round(rss('before plan, DescribeInstances') / rss('node22 -e 0'));
  }
  // What the peak is made of: one more run of each case with a preload that reads /proc/self/status and the V8
  // heap at exit. File-backed pages are the executable's own (text, read-only data, the single executable's
  // blob): clean and shared, but counted in RSS; anonymous pages are the process's own (V8 heap, malloc).
  const preload = join(dir, 'composition.cjs');
  await writeFile(
    preload,
    `process.on('exit', () => { const s = require('fs').readFileSync('/proc/self/status', 'utf8'); const kb = (k) => Number(s.split('\\n').find((l) => l.startsWith(k + ':')).replace(/[^0-9]/g, ''));` +
      ` const h = require('v8').getHeapStatistics(); require('fs').writeFileSync(process.env.PJ_MEM_OUT, JSON.stringify({ hwmMB: kb('VmHWM') / 1024, rssAnonMB: kb('RssAnon') / 1024, rssFileMB: kb('RssFile') / 1024, v8HeapTotalMB: h.total_heap_size / 2 ** 20, v8HeapUsedMB: h.used_heap_size / 2 ** 20 })); });\n`,
  );
  const composition: Record<string, Record<string, number>> = {};
  for (const c of cases) {
    const out = join(dir, 'composition.json');
    const r = await timeV(c.argv, { ...(c.env ?? cleanEnv()), NODE_OPTIONS: `--require ${preload}`, PJ_MEM_OUT: out });
    const text = await readFile(out, 'utf8').catch(() => undefined);
    if (r.code !== 0 || text === undefined) {
      log(`p5: no composition for ${c.name} (exit ${r.code}): ${r.stderr.slice(-300)}`);
      continue;
    }
    const j = JSON.parse(text) as Record<string, number>;
    composition[c.name] = Object.fromEntries(Object.entries(j).map(([k, v]) => [k, round(v, 1)]));
  }
  const ec2Calls = ec2.requests.length;
  const result = {
    repeats,
    rows,
    rssRatioToNodeE0: ratios,
    /** At exit, from /proc/self/status and V8 (one extra run each, with a preload): what the peak is made of. */
    composition,
    ec2Calls,
    baseline: before.path,
    notes: [...(sea ? [] : ['single executable rows skipped (not built; npm run build:sea)']), ...(before.note ? [before.note] : [])],
  };
  for (const [k, v] of Object.entries(rows)) log(`p5: ${k.padEnd(32)} max RSS ${v.maxRssMB.median} MB (${v.maxRssMB.min}-${v.maxRssMB.max}), CPU ${v.cpuMs.median} ms`);
  await writeResult(args.json, result);
} finally {
  await imds.close();
  await ec2.close();
  await rm(dir, { recursive: true, force: true });
}

function planHasTags(r: TimeV): void {
  const plan = JSON.parse(r.stdout) as { tasks: { name: string; source: string }[] };
  if (plan.tasks.length !== 3 || !plan.tasks.every((t) => t.source.startsWith('tag:'))) throw new Error(`unexpected plan from tags: ${r.stdout.slice(0, 500)}`);
}
