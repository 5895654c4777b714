// P3 per-task overhead: `postjoin run` of 0, 1 and 100 `exec /bin/true` tasks (file source, readiness and
// IMDS off, once: false) against bash scripts that run /bin/true 0, 1 and 100 times, side by side in hyperfine.
// Per task above bash = the slope (100 tasks − 0 tasks)/100 of postjoin minus that of bash; the fixed cost is
// the 0-task difference. Beside them, the mechanisms a task is made of, timed alone; with --profile also one
// 100-task run's own log (the time between tasks) and a CPU profile of it (the functions).
//
//   node bench/out/p3-per-task.js [--quick] [--profile] [--json FILE]
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeCpuProfile } from './lib/cpu-profile.js';
import { BUNDLE, benchArgs, cleanEnv, execOk, hyperfine, log, median, round, stats, writeResult, type HyperfineCommand } from './lib/common.js';

const args = benchArgs({ profile: { type: 'boolean', default: false } });
const quick = args.quick;
// A 100-task run takes seconds here, so fewer runs than P1, in rounds for the spread. The diagnostic runs
// below go first and warm the caches, so hyperfine needs no warmup of its own.
const rounds = quick ? 1 : 3;
const runs = 2;
const COUNTS = [0, 1, 100] as const;

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
    commands.push({ name: `postjoin ${n}`, argv: [process.execPath, BUNDLE, 'run', '--config', config, '--state-dir', join(dir, `state-${n}`)] });
    commands.push({ name: `bash ${n}`, argv: ['/bin/bash', script] });
  }
  const diagnostics: Record<string, unknown> = {};
  if (args.values.profile) {
    // Where the time between two tasks goes, from one 100-task run's own log (ms timestamps) and its task
    // records: the task's own duration (spawn to exit, as the runner saw it) and the rest (state writes, logs).
    const state = join(dir, 'state-log');
    const r = await execOk(process.execPath, [BUNDLE, 'run', '--config', configs.get(100)!, '--state-dir', state, '--log-level', 'debug'], { env: cleanEnv() });
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

  // The mechanisms alone, in a Node process of its own (spawn, execa, the two state writes), per operation.
  const breakdown = await execOk(process.execPath, [fileURLToPath(new URL('p3-breakdown.js', import.meta.url)), join(dir, 'state-breakdown')], { env: cleanEnv() });
  diagnostics.mechanismsMs = JSON.parse(breakdown.stdout) as Record<string, number>;

  // A CPU profile of the same run, summarised by self time (JavaScript) — where the per-task cost goes.
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
  const result: Record<string, unknown> = {
    rounds,
    runs,
    wallMs: Object.fromEntries(measured.map((m) => [m.name, stats(m.wallMs)])),
    cpuMs: Object.fromEntries(measured.map((m) => [m.name, round(median(m.cpuMsPerRound), 1)])),
    perTaskAboveBashMs: round(slope(med('postjoin 100'), med('postjoin 0'), med('bash 100'), med('bash 0'))),
    perTaskAboveBashMsPerRound: slopes.map((x) => round(x)),
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
