// bench/results.md from bench/results.json: one table, each row a figure measured beside its comparison in
// the same run, its goal, and whether the goal is met. Goals are evaluated here, once, for both files.
import type { Results } from '../run.js';
import type { Stats } from './common.js';

export interface Goal {
  id: string;
  what: string;
  goal: string;
  value?: number;
  unit: string;
  met?: boolean;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the benchmarks' JSON, read defensively */
type J = any;

const ms = (x: number | undefined | null) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`);
const spread = (s: Stats | undefined, f = ms) => (s ? `${f(s.p10)}–${f(s.p90)}` : '–');
const times = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}×`);
const mb = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(1)} MB`);
const mib = (bytes: number | undefined) => (bytes === undefined ? '–' : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
const count = (x: number | undefined) => (x === undefined ? '–' : x.toLocaleString('en-US'));
const mark = (met: boolean | undefined) => (met === undefined ? '' : met ? '**met**' : '**missed**');

export function goals(r: Results): Goal[] {
  const out: Goal[] = [];
  const p1 = r.benchmarks.p1?.result as J;
  for (const [key, what, limit] of [['sea --version', 'P1 single executable --version', 1.3], ['sea plan', 'P1 single executable plan', 1.5]] as const) {
    const row = p1?.rows?.[key];
    out.push({ id: `p1 ${key}`, what: `${what} ÷ node22 -e 0 (wall, median)`, goal: `≤${limit}×`, unit: '×', value: row?.ratio, met: row ? row.ratio <= limit : undefined });
  }
  const p2 = r.benchmarks.p2?.result as J;
  for (const kind of ['healthz', 'unit'] as const) {
    const v = p2?.rows?.[kind]?.postjoinSpawnMs?.median;
    out.push({ id: `p2 ${kind}`, what: `P2 ${kind === 'healthz' ? 'kubelet healthz' : 'unit active'} → first task spawned (median)`, goal: '≤50 ms', unit: 'ms', value: v, met: v === undefined ? undefined : v <= 50 });
  }
  const p3 = r.benchmarks.p3?.result as J;
  out.push({ id: 'p3', what: `P3 per exec task, above bash (${p3?.subject ?? 'bundle on the host Node'})`, goal: '≤5 ms', unit: 'ms', value: p3?.perTaskAboveBashMs, met: p3 ? p3.perTaskAboveBashMs <= 5 : undefined });
  const p5 = r.benchmarks.p5?.result as J;
  for (const [key, limit] of [
    ['bundle run, 20 tasks', 60],
    ['sea run, 20 tasks', 60],
    ['bundle plan, DescribeInstances', 90],
    ['sea plan, DescribeInstances', 90],
  ] as const) {
    const v = p5?.rows?.[key]?.maxRssMB?.median;
    if (v !== undefined || key.startsWith('bundle')) out.push({ id: `p5 ${key}`, what: `P5 peak RSS, ${key}`, goal: `≤${limit} MB`, unit: 'MB', value: v, met: v === undefined ? undefined : v <= limit });
  }
  const p6 = r.benchmarks.p6?.result as J;
  for (const key of ['imds-tags', 'describe-instances'] as const) {
    const v = p6?.[key]?.failedFetches;
    out.push({ id: `p6 ${key}`, what: `P6 failed fetches, ${key === 'imds-tags' ? 'tags in IMDS' : 'DescribeInstances fallback'}`, goal: '0', unit: 'fetches', value: v, met: v === undefined ? undefined : v === 0 });
  }
  return out;
}

/**
 * The issue's four figures (issue 14), each beside its "before" (the --baseline single executable, measured in
 * the same run) and its goal. Ratios are of the single executable over `node22 -e 0` of its own Node.
 */
export function issueTable(r: Results): string[] {
  const p1 = r.benchmarks.p1?.result as J;
  const p3 = r.benchmarks.p3?.result as J;
  const p5 = r.benchmarks.p5?.result as J;
  const g = new Map(goals(r).map((x) => [x.id, x]));
  const rss = (key: string) => p5?.rows?.[key]?.maxRssMB?.median as number | undefined;
  const withCpu = (wall: number | undefined, cpu: number | undefined) => (cpu === undefined ? ms(wall) : `${ms(wall)} (CPU ${ms(cpu)})`);
  const rows: [string, string, string, string, Goal | undefined][] = [
    ['`--version`', times(p1?.rows?.['before --version']?.ratio), times(p1?.rows?.['sea --version']?.ratio), '≤ 1.3×', g.get('p1 sea --version')],
    ['`plan` (file source, 5 tasks of 5 kinds)', times(p1?.rows?.['before plan']?.ratio), times(p1?.rows?.['sea plan']?.ratio), '≤ 1.5×', g.get('p1 sea plan')],
    [
      `per \`exec /bin/true\` task, above a bash spawn (slope of 0 → 100 tasks)${p3?.subject === 'single executable x64' ? '' : ', bundle on the host Node'}`,
      withCpu(p3?.others?.before?.perTaskAboveBashMs, p3?.others?.before?.perTaskCpuAboveBashMs),
      withCpu(p3?.perTaskAboveBashMs, p3?.perTaskCpuAboveBashMs),
      '≤ 5 ms (≤ 2 ms is the stretch)',
      g.get('p3'),
    ],
    ['peak RSS, `run` of 20 exec tasks', mb(rss('before run, 20 tasks')), mb(rss('sea run, 20 tasks')), '≤ 60 MB', g.get('p5 sea run, 20 tasks')],
  ];
  const head = ['figure', `before${r.baseline ? ` (\`${r.baseline}\`)` : ''}`, 'after (this commit)', 'goal', ''];
  return [head, head.map(() => '---'), ...rows.map(([a, b, c, d, goal]) => [a, b, `**${c}**`, d, mark(goal?.met)])].map((cells) => `| ${cells.join(' | ')} |`);
}

export function renderMarkdown(r: Results): string {
  const m = r.machine;
  const g = new Map(goals(r).map((x) => [x.id, x]));
  const rows: string[][] = [];
  const add = (...cells: string[]) => rows.push(cells);

  const p1 = r.benchmarks.p1?.result as J;
  if (p1) {
    const ir = p1.instructionRatios ?? {};
    const line = (key: string, label: string, goal?: Goal) => {
      const x = p1.rows?.[key];
      if (!x) return;
      const extra = [`rounds ${x.ratioPerRound.map((v: number) => v.toFixed(2)).join(', ')}`, `CPU ${times(x.cpuRatio)}`, ...(ir[key] ? [`instructions ${times(ir[key])}`] : [])].join('; ');
      add('P1', label, `${ms(x.wallMs.median)} (min ${ms(x.wallMs.min)})`, `\`${x.baseline}\` ${ms(x.baselineWallMs.median)} (min ${ms(x.baselineWallMs.min)})`, `**${times(x.ratio)}** (${extra})`, goal?.goal ?? '', mark(goal?.met));
    };
    line('sea --version', '`--version`, single executable', g.get('p1 sea --version'));
    line('sea plan', '`plan` (file source, 5 tasks), single executable', g.get('p1 sea plan'));
    line('before --version', '`--version`, single executable before (`--baseline`)');
    line('before plan', '`plan`, single executable before (`--baseline`)');
    line('bundle --version', '`--version`, bundle on the host Node');
    line('bundle plan', '`plan`, bundle on the host Node');
    if (!p1.rows?.['sea --version']) add('P1', 'single executable', '–', '–', (p1.notes ?? []).join('; '), '≤1.3×', '');
  }
  const p2 = r.benchmarks.p2?.result as J;
  if (p2) {
    for (const kind of ['healthz', 'unit'] as const) {
      const x = p2.rows?.[kind];
      if (!x) continue;
      const goal = g.get(`p2 ${kind}`);
      const label = kind === 'healthz' ? 'kubelet healthz turns ok → first task spawned' : 'unit turns active (D-Bus) → first task spawned';
      const bashLabel = kind === 'healthz' ? '`until curl …; do sleep 1; done`' : '`until busctl … ActiveState …; do sleep 1; done`';
      add(
        'P2',
        label,
        x.postjoinSpawnMs ? `${ms(x.postjoinSpawnMs.median)} (p10–p90 ${spread(x.postjoinSpawnMs)}, n=${x.postjoinSpawnMs.n})` : '–',
        x.bashSpawnMs ? `${bashLabel} ${ms(x.bashSpawnMs.median)} (${spread(x.bashSpawnMs)}, n=${x.bashSpawnMs.n})` : '–',
        x.bashOverPostjoin ? `bash loop takes **${x.bashOverPostjoin}×** as long` : '',
        goal?.goal ?? '',
        mark(goal?.met),
      );
    }
  }
  const p3 = r.benchmarks.p3?.result as J;
  if (p3) {
    const goal = g.get('p3');
    add(
      'P3',
      'per `exec /bin/true` task, above bash (slope of 0 → 100 tasks)',
      `**${ms(p3.perTaskAboveBashMs)}** (rounds ${p3.perTaskAboveBashMsPerRound.map((v: number) => v.toFixed(1)).join(', ')}; CPU ${ms(p3.perTaskCpuAboveBashMs)})`,
      `bash runs \`/bin/true\` in ${ms(p3.bashPerTrueMs)} each`,
      `100 tasks: ${ms(p3.wallMs['postjoin 100'].median)} vs bash ${ms(p3.wallMs['bash 100'].median)}; (total − bash)/100 = ${ms(p3.naivePerTaskMs)}`,
      goal?.goal ?? '',
      mark(goal?.met),
    );
    add('P3', 'fixed cost of a run (0 tasks), above bash', ms(p3.fixedCostMs), `bash: ${ms(p3.wallMs['bash 0'].median)}`, `postjoin 0 tasks: ${ms(p3.wallMs['postjoin 0'].median)}`, '', '');
    for (const [key, label] of [['before', 'single executable before (`--baseline`)'], ['bundle', 'bundle on the host Node']] as const) {
      const o = p3.others?.[key];
      if (!o) continue;
      add('P3', `per \`exec /bin/true\` task above bash, and the fixed cost, ${label}`, `**${ms(o.perTaskAboveBashMs)}** (rounds ${o.perRound.map((v: number) => v.toFixed(1)).join(', ')}; CPU ${ms(o.perTaskCpuAboveBashMs)})`, '', `fixed cost ${ms(o.fixedCostMs)}`, '', '');
    }
  }
  const p4 = r.benchmarks.p4;
  if (p4?.status === 'skipped') add('P4', 'parallel pre-pull', '–', '–', `skipped: ${p4.note ?? ''}`, '', '');
  const p4r = p4?.result as J;
  if (p4r) {
    const c = (k: string) => p4r.rows[k];
    add(
      'P4',
      `8 × ${p4r.imageMiB} MiB images, pull task with concurrency 1 / 4 / 8 (registry behind a proxy: ${p4r.proxy.latencyMsPerRequest} ms per request, ${p4r.proxy.mibPerSecondPerConnection} MiB/s per connection)`,
      ['c=1', 'c=4', 'c=8'].map((k) => ms(c(k).wallMs.median)).join(' / '),
      `slowest single pull ${ms(p4r.slowestSingleMs.median)}`,
      `**${['c=1', 'c=4', 'c=8'].map((k) => times(c(k).ratioToSlowest.median)).join(' / ')}** the slowest single pull (n=${p4r.repetitions}; c=8 ${times(c('c=8').ratioToSlowest.min)}–${times(c('c=8').ratioToSlowest.max)})`,
      '',
      '',
    );
  }
  const p5 = r.benchmarks.p5?.result as J;
  if (p5) {
    const line = (key: string, label: string, base: string) => {
      const x = p5.rows?.[key];
      if (!x) return;
      const goal = g.get(`p5 ${key}`);
      add('P5', label, `**${mb(x.maxRssMB.median)}** (${mb(x.maxRssMB.min)}–${mb(x.maxRssMB.max)})`, `\`${base}\` ${mb(p5.rows[base]?.maxRssMB.median)}`, `${times(p5.rssRatioToNodeE0?.[key])} of \`${base}\``, goal?.goal ?? '', mark(goal?.met));
    };
    line('sea run, 20 tasks', 'peak RSS, `run` of 20 exec tasks (file source), single executable', 'node22 -e 0');
    line('before run, 20 tasks', 'peak RSS, `run` of 20 exec tasks, single executable before (`--baseline`)', 'node22 -e 0');
    line('bundle run, 20 tasks', 'peak RSS, `run` of 20 exec tasks, bundle on the host Node', 'node -e 0');
    line('sea plan, DescribeInstances', 'peak RSS, `plan` on the DescribeInstances path, single executable', 'node22 -e 0');
    line('before plan, DescribeInstances', 'peak RSS, `plan` on the DescribeInstances path, single executable before (`--baseline`)', 'node22 -e 0');
    line('bundle plan, DescribeInstances', 'peak RSS, `plan` on the DescribeInstances path, bundle on the host Node', 'node -e 0');
  }
  const p6 = r.benchmarks.p6?.result as J;
  if (p6) {
    const line = (key: string, label: string, goal?: Goal) => {
      const x = p6[key];
      if (!x) return;
      add(
        'P6',
        label,
        `**${count(x.failedFetches)} failed** of ${count(x.nodes)}${x.failedFetches ? ` (${count(x.failedThrottled)} throttled out, ${count(x.failedCredentials)} credential lookups timed out)` : ''}; time to config p50 ${ms(x.timeToConfigMs.p50)}, p99 ${ms(x.timeToConfigMs.p99)}${x.starved ? `; **the simulation was short of CPU** (event loop delay p99 ${ms(x.eventLoopDelayP99Ms)})` : ''}`,
        `EC2 calls ${count(x.ec2Calls)} (${count(x.ec2Throttled)} throttled); IMDS calls ${count(x.imdsCalls)}`,
        `${(x.ec2Calls / x.nodes).toFixed(2)} EC2 and ${(x.imdsCalls / x.nodes).toFixed(1)} IMDS calls per node`,
        goal?.goal ?? '',
        goal ? mark(goal.met) : '(before)',
      );
    };
    const scale = `${count(p6.nodes)} boots over ${p6.windowS} s, EC2 bucket 100 + 20/s`;
    line('imds-tags', `${scale}: tags in IMDS`, g.get('p6 imds-tags'));
    line('describe-instances', `${scale}: tags not in IMDS → DescribeInstances, SDK standard retry, ${p6['describe-instances']?.maxAttempts ?? 20} attempts`, g.get('p6 describe-instances'));
    line('describe-instances-5-attempts', `the same, 5 attempts (before this benchmark)`);
  }
  const s = r.sizes;
  add(
    'Size',
    'bundle / single executable x64 / arm64',
    [`${((s.bundleBytes as number) / 1e6).toFixed(2)} MB`, mib(s.seaX64Bytes as number | undefined), mib(s.seaArm64Bytes as number | undefined)].join(' / '),
    '',
    `${count(s.bundleBytes as number)} / ${count(s.seaX64Bytes as number | undefined)} / ${count(s.seaArm64Bytes as number | undefined)} bytes`,
    'tracked',
    '',
  );

  const failed = Object.values(r.benchmarks).filter((b) => b.status !== 'ok');
  const head = ['#', 'what', 'postjoin', 'beside it, same run', 'figure', 'goal', ''];
  const table = [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
  const machineLine =
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}; host Node ${m.node}, single executable Node ${m.embeddedNode}; ` +
    `load average ${m.loadAverage.join(' / ')} at the start and ${m.loadAverageAtEnd.join(' / ')} at the end (1/5/15 min; the machine is shared)`;
  return [
    `<!-- generated by \`npm run bench\` (bench/run.ts, bench/lib/report.ts); do not edit by hand -->`,
    `${r.mode === 'quick' ? 'Quick run' : 'Full run'} of ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${r.totalSeconds} s in all, commit ${m.gitCommit ?? '?'}${m.gitDirty ? ' (with uncommitted changes)' : ''}.`,
    `Machine: ${machineLine}.`,
    '',
    '## The four figures of issue 14',
    '',
    ...issueTable(r),
    '',
    '## Every figure',
    '',
    table,
    '',
    'Medians, with their spread (p10–p90 or min–max, or the per-round figure). Ratios and differences are of figures measured in the same run.',
    ...(failed.length ? ['', ...failed.map((b) => `- ${b.id} ${b.title}: ${b.status}${b.note ? ` (${b.note})` : ''}`)] : []),
    '',
  ].join('\n');
}
