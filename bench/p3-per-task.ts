// P3 per-task overhead: `postjoin run` of 0, 1 and 100 `exec /bin/true` tasks (file source, readiness and
// IMDS off, once: false) against bash scripts that run /bin/true 0, 1 and 100 times, side by side in hyperfine.
// Per task above bash = the slope (100 tasks − 0 tasks)/100 of postjoin minus that of bash; the fixed cost is
// the 0-task difference. postjoin is the x64 single executable when one is built (the issue's figure), else the
// bundle on the host Node; the bundle's 0 and 100 are measured beside it, and with --baseline DIR the single
// executable kept in DIR too. Beside them, the mechanisms a task is made of, timed alone; with --profile also
// one 100-task run's own log (the time between tasks) and a CPU profile of it (the functions).
//
//   node bench/out/p3-per-task.js [--quick] [--no-sea] [--baseline DIR] [--profile] [--json FILE]
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeCpuProfile } from './lib/cpu-profile.js';
import { BUNDLE, SEA_X64, benchArgs, cleanEnv, execOk, hyperfine, log, median, round, stats, writeResult, type HyperfineCommand } from './lib/common.js';
import { baselineSea, evictFromPageCache } from './lib/sea.js';

const args = benchArgs({ profile: { type: 'boolean', default: false }, 'no-sea': { type: 'boolean', default: false }, baseline: { type: 'string' } });
const quick = args.quick;
// A 100-task run takes seconds here, so fewer runs than P1, in rounds for the spread. The diagnostic runs
// below go first and warm the caches, so hyperfine needs no warmup of its own.
const rounds = quick ? 1 : 3;
const runs = 2;
const COUNTS = [0, 1, 100] as const;
const sea = !args.values['no-sea'] && existsSync(SEA_X64) ? SEA_X64 : undefined;
const before = baselineSea(args.values.baseline as string | undefined);
/** What is measured: the subject (`postjoin`, the figure), and beside it the other builds, 0 and 100 tasks only. */
const subjects: { prefix: string; argv: string[]; counts: readonly number[] }[] = [
  { prefix: 'postjoin', argv: sea ? [sea] : [process.execPath, BUNDLE], counts: COUNTS },
  ...(sea ? [{ prefix: 'bundle', argv: [process.execPath, BUNDLE], counts: [0, 100] }] : []),
  ...(before.path ? [{ prefix: 'before', argv: [before.path], counts: [0, 100] }] : []),
];

const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-p3-'));
try {
  const commands: HyperfineCommand[] = [];
  const configs = new Map<number, string>();
  for (const n of COUNTS) {
    const tasksDir = join(dir, `tasks-${n}`);
    await mkdir(tasksDir);
    const tasks = Array.from({ length: n }, (_, i) => `  - { name: t${String(i).padStart(3, '0')}, once: false, exec: { command: /bin/true } }`).join('\n');
    await writeFile(join(tasksDir, '10.yaml'), `apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:${n ? `\n${tasks}` : ' []'}\n`);
    const config = join(dir, `config-${n}.yaml`);
    await writeFile(config, `sources: [file]\ntasksDir: ${tasksDir}\nimds: { enabled: false }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\n`);
    configs.set(n, config);
    const script = join(dir, `true-${n}.sh`);
    await writeFile(script, `#!/bin/bash\nset -euo pipefail\n${'/bin/true\n'.repeat(n)}`);
    for (const s of subjects) {
      if (s.counts.includes(n)) commands.push({ name: `${s.prefix} ${n}`, argv: [...s.argv, 'run', '--config', config, '--state-dir', join(dir, `state-${s.prefix}-${n}`)] });
    }
    commands.push({ name: `bash ${n}`, argv: ['/bin/bash', script] });
  }
  evictFromPageCache([sea, before.path]);
  const diagnostics: Record<string, unknown> = {};
  if (args.values.profile) {
    // Where the time between two tasks goes, from one 100-task run's own log (ms timestamps) and its task
    // records: the task's own duration (spawn to exit, as the runner saw it) and the rest (state writes, logs).
    const state = join(dir, 'state-log');
    const [cmd, ...pre] = subjects[0]!.argv;
    const r = await execOk(cmd!, [...pre, 'run', '--config', configs.get(100)!, '--state-dir', state, '--log-level', 'debug'], { env: cleanEnv() });
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { time: string; msg: string; duration_ms?: number; task?: string });
    const started = lines.filter((l) => / started$/.test(l.msg)).map((l) => Date.parse(l.time));
    const durations = lines.filter((l) => typeof l.duration_ms === 'number' && l.task).map((l) => l.duration_ms!);
    const gaps = started.slice(1).map((t, i) => t - started[i]!);
    diagnostics.inRun = {
      taskToTaskMs: stats(gaps),
      taskDurationMs: stats(durations),
      note: 'taskToTaskMs: from one task\'s "started" line to the next (ms resolution); taskDurationMs: the runner\'s duration_ms for each task',
    };
  }

  // The mechanisms alone, in a Node process of its own (spawn, postjoin's process group, the two state writes), per operation.
  const breakdown = await execOk(process.execPath, [fileURLToPath(new URL('p3-breakdown.js', import.meta.url)), join(dir, 'state-breakdown')], { env: cleanEnv() });
  diagnostics.mechanismsMs = JSON.parse(breakdown.stdout) as Record<string, number>;

  // A CPU profile of the same run (the bundle on the host Node, which takes --cpu-prof), summarised by self
  // time (JavaScript) — where the per-task cost goes.
  if (args.values.profile) {
      const profDir = join(dir, 'prof');
      await execOk(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, BUNDLE, 'run', '--config', configs.get(100)!, '--state-dir', join(dir, 'state-prof')], { env: cleanEnv() });
      const profile = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
      if (profile) diagnostics.cpuProfile = summarizeCpuProfile(JSON.parse(await readFile(join(profDir, profile), 'utf8')), 12);
  }

  log(`p3: hyperfine, ${rounds} round(s) x ${runs} runs`);
  const measured = await hyperfine(commands, { runs, warmup: 0, rounds, env: cleanEnv() });
  const by = new Map(measured.map((m) => [m.name, m]));
  const med = (name: string) => median(by.get(name)!.wallMs);
  const perRound = (name: string) => by.get(name)!.medianMsPerRound;

  // Slope per round gives the spread; the pooled medians give the figure.
  const slope = (pj100: number, pj0: number, b100: number, b0: number) => (pj100 - pj0 - (b100 - b0)) / 100;
  const slopes = perRound('postjoin 100').map((_, i) => slope(perRound('postjoin 100')[i]!, perRound('postjoin 0')[i]!, perRound('bash 100')[i]!, perRound('bash 0')[i]!));
  // The same slope in CPU time (user + system, the children's included): what the wall-time slope would be
  // on an idle machine, and much less moved by the other load on a shared one.
  const cpu = (name: string) => median(by.get(name)!.cpuMsPerRound);
  const cpuSlope = (p: string) => round(slope(cpu(`${p} 100`), cpu(`${p} 0`), cpu('bash 100'), cpu('bash 0')));
  const slopesOf = (p: string) => perRound(`${p} 100`).map((_, i) => round(slope(perRound(`${p} 100`)[i]!, perRound(`${p} 0`)[i]!, perRound('bash 100')[i]!, perRound('bash 0')[i]!)));
  const others = Object.fromEntries(
    subjects.slice(1).map(({ prefix: p }) => [
      p,
      { perTaskAboveBashMs: round(slope(med(`${p} 100`), med(`${p} 0`), med('bash 100'), med('bash 0'))), perRound: slopesOf(p), perTaskCpuAboveBashMs: cpuSlope(p), fixedCostMs: round(med(`${p} 0`) - med('bash 0'), 1) },
    ]),
  );
  const result: Record<string, unknown> = {
    rounds,
    runs,
    subject: sea ? 'single executable x64' : 'bundle on the host Node',
    baseline: before.path,
    notes: before.note ? [before.note] : [],
    others,
    wallMs: Object.fromEntries(measured.map((m) => [m.name, stats(m.wallMs)])),
    cpuMs: Object.fromEntries(measured.map((m) => [m.name, round(median(m.cpuMsPerRound), 1)])),
    perTaskAboveBashMs: round(slope(med('postjoin 100'), med('postjoin 0'), med('bash 100'), med('bash 0'))),
    perTaskAboveBashMsPerRound: slopes.map((x) => round(x)),
    perTaskCpuAboveBashMs: cpuSlope('postjoin'),
    /** The brief's plain form: (postjoin 100 − bash 100) / 100, fixed start-up included. */
    naivePerTaskMs: round((med('postjoin 100') - med('bash 100')) / 100),
    fixedCostMs: round(med('postjoin 0') - med('bash 0'), 1),
    firstTaskMs: round(med('postjoin 1') - med('postjoin 0') - (med('bash 1') - med('bash 0')), 1),
    bashPerTrueMs: round((med('bash 100') - med('bash 0')) / 100),
    ...diagnostics,
  };

  log(`p3: per task above bash ${String(result.perTaskAboveBashMs)} ms (rounds ${slopes.map((x) => round(x)).join(', ')}), fixed ${String(result.fixedCostMs)} ms`);
  await writeResult(args.json, result);
} finally {
  await rm(dir, { recursive: true, force: true });
}
