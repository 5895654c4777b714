// P1 cold start: `--version` and `plan` (file source) of the plain bundle and of the single executable, each
// against `node -e 0` of the same Node, measured side by side with hyperfine (-N, warmup, rounds). Also the
// instructions each executes (callgrind), which the machine's load does not change. With --baseline DIR, the
// single executable kept in DIR (an earlier commit's) is measured beside today's in the same hyperfine runs.
//
//   node bench/out/p1-cold-start.js [--quick] [--baseline DIR] [--json FILE]
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baselineSea, embeddedNodeVersion, evictFromPageCache, strippedNodePath } from './lib/sea.js';
import { BUNDLE, SEA_X64, benchArgs, callgrindInstructions, cleanEnv, hyperfine, log, median, round, stats, which, writeResult, type HyperfineCommand } from './lib/common.js';

const args = benchArgs({ 'no-sea': { type: 'boolean', default: false }, rounds: { type: 'string' }, runs: { type: 'string' }, baseline: { type: 'string' } });
const quick = args.quick;
const rounds = Number(args.values.rounds ?? (quick ? 1 : 3));
const runs = Number(args.values.runs ?? (quick ? 5 : 7));
const warmup = quick ? 1 : 3;

const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-p1-'));
try {
  // A small, typical plan: five tasks of the kinds a node's file source holds.
  await mkdir(join(dir, 'tasks.d'));
  await writeFile(
    join(dir, 'tasks.d', '10-node.yaml'),
    `apiVersion: postjoin/v1alpha1
kind: TaskList
tasks:
  - { name: sysctl, script: "sysctl -w vm.max_map_count=262144" }
  - { name: agent-config, file: { path: /etc/agent.json, content: "{}", mode: "0644" } }
  - { name: install, exec: { command: /usr/bin/dnf, args: [install, -y, amazon-cloudwatch-agent] }, retries: 2 }
  - { name: start-agent, unit: { name: amazon-cloudwatch-agent.service, action: restart } }
  - { name: wait-agent, wait: { url: "http://127.0.0.1:4317/" } }
`,
  );
  const config = join(dir, 'config.yaml');
  await writeFile(config, `sources: [file]\ntasksDir: ${dir}/tasks.d\nimds: { enabled: false }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\n`);
  const plan = ['plan', '--config', config];

  const node22 = args.values['no-sea'] ? undefined : strippedNodePath('x64');
  const sea = !args.values['no-sea'] && existsSync(SEA_X64) && node22 ? SEA_X64 : undefined;
  const notes: string[] = [];
  if (!sea) notes.push(`single executable rows skipped: ${args.values['no-sea'] ? '--no-sea (quick run without a built single executable; `npm run build:sea`)' : `${SEA_X64} or its cached Node 22 is missing (npm run build:sea)`}`);
  const before = node22 ? baselineSea(args.values.baseline as string | undefined) : {};
  if (before.note) notes.push(before.note);

  const commands: HyperfineCommand[] = [
    { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { name: 'node postjoin.cjs --version', argv: [process.execPath, BUNDLE, '--version'] },
    { name: 'node postjoin.cjs plan', argv: [process.execPath, BUNDLE, ...plan] },
  ];
  if (sea && node22) {
    commands.push(
      { name: 'node22 -e 0', argv: [node22, '-e', '0'] },
      { name: 'sea --version', argv: [sea, '--version'] },
      { name: 'sea plan', argv: [sea, ...plan] },
    );
  }
  if (before.path && node22) commands.push({ name: 'before --version', argv: [before.path, '--version'] }, { name: 'before plan', argv: [before.path, ...plan] });
  evictFromPageCache([node22, sea, before.path]);
  log(`p1: hyperfine, ${commands.length} commands, ${rounds} round(s) x ${runs} runs (warmup ${warmup})`);
  const measured = await hyperfine(commands, { runs, warmup, rounds, env: cleanEnv() });
  const by = new Map(measured.map((m) => [m.name, m]));

  const row = (name: string, baseline: string) => {
    const m = by.get(name)!;
    const b = by.get(baseline)!;
    const perRound = m.medianMsPerRound.map((x, i) => x / b.medianMsPerRound[i]!);
    const cpuPerRound = m.cpuMsPerRound.map((x, i) => x / b.cpuMsPerRound[i]!);
    return {
      command: m.command,
      baseline,
      wallMs: stats(m.wallMs),
      baselineWallMs: stats(b.wallMs),
      /** Median wall time over the baseline's, all runs pooled; spread: the same ratio per round. */
      ratio: round(median(m.wallMs) / median(b.wallMs)),
      ratioPerRound: perRound.map((x) => round(x)),
      ratioOfMin: round(Math.min(...m.wallMs) / Math.min(...b.wallMs)),
      cpuMs: round(median(m.cpuMsPerRound), 1),
      cpuRatio: round(median(cpuPerRound)),
    };
  };
  const rows: Record<string, ReturnType<typeof row>> = {
    'bundle --version': row('node postjoin.cjs --version', 'node -e 0'),
    'bundle plan': row('node postjoin.cjs plan', 'node -e 0'),
  };
  if (sea) {
    rows['sea --version'] = row('sea --version', 'node22 -e 0');
    rows['sea plan'] = row('sea plan', 'node22 -e 0');
  }
  if (before.path && node22) {
    rows['before --version'] = row('before --version', 'node22 -e 0');
    rows['before plan'] = row('before plan', 'node22 -e 0');
  }

  // Instruction counts: slow under valgrind (seconds per command), so the full run only.
  const instructions: Record<string, number | undefined> = {};
  if (!quick && which('valgrind')) {
    // The single executable's rows only: the goal's, and the bundle on Node 20 takes long under valgrind.
    const targets: [string, string[]][] = [];
    if (sea && node22) targets.push(['node22 -e 0', [node22, '-e', '0']], ['sea --version', [sea, '--version']], ['sea plan', [sea, ...plan]]);
    if (before.path) targets.push(['before --version', [before.path, '--version']], ['before plan', [before.path, ...plan]]);
    for (const [name, argv] of targets) {
      log(`p1: callgrind ${name}`);
      instructions[name] = await callgrindInstructions(argv);
    }
  } else notes.push('instruction counts (callgrind): full run only');
  const instructionRatios: Record<string, number> = {};
  const ir = (a: string, b: string) => (instructions[a] && instructions[b] ? round(instructions[a]! / instructions[b]!) : undefined);
  for (const [label, a, b] of [
    ['bundle --version', 'node postjoin.cjs --version', 'node -e 0'],
    ['sea --version', 'sea --version', 'node22 -e 0'],
    ['sea plan', 'sea plan', 'node22 -e 0'],
    ['before --version', 'before --version', 'node22 -e 0'],
    ['before plan', 'before plan', 'node22 -e 0'],
  ] as const) {
    const x = ir(a, b);
    if (x !== undefined) instructionRatios[label] = x;
  }

  const result = { rounds, runs, warmup, node: process.version, node22: node22 ? `${embeddedNodeVersion()} (the single executable's own, stripped)` : undefined, baseline: before.path, rows, instructions, instructionRatios, notes };
  for (const [k, v] of Object.entries(rows)) log(`p1: ${k.padEnd(24)} ${v.ratio}x ${v.baseline} (rounds ${v.ratioPerRound.join(', ')}; CPU ${v.cpuRatio}x; median ${v.wallMs.median} ms)`);
  await writeResult(args.json, result);
} finally {
  await rm(dir, { recursive: true, force: true });
}
