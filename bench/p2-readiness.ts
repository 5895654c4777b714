// P2 readiness reaction: from the last readiness condition turning true to the first task's spawn, for a
// kubelet healthz that flips to healthy and for a unit turning active (on a private bus with the systemd1
// stand-in). postjoin's side is the readiness engineer's bench/readiness-reaction.ts, fast tier, run as it is;
// beside it, in the same run, the seed's alternative: a bash loop that polls once a second and then runs the
// first task, against the same kind of healthz emulator and the same stand-in. Both "spawn" times are the
// first task's own clock (`/bin/date +%s%6N`), so both sides measure the same thing.
//
//   node bench/out/p2-readiness.js [--quick] [--json FILE]
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKubeletStub } from '../test/emulators/kubelet-healthz.js';
import { startSystemd1Standin, unitPath } from '../test/emulators/systemd1-standin.js';
import { benchArgs, cleanEnv, log, median, round, sleep, stats, which, writeResult, type Stats } from './lib/common.js';

const args = benchArgs();
const postjoinTrials = args.quick ? 5 : 20;
const bashTrials = args.quick ? 3 : 10;
const nowMs = () => performance.timeOrigin + performance.now();

type Kind = 'healthz' | 'unit';

/** The readiness engineer's fast tier, unchanged: its own JSON is kept whole in the result. */
async function postjoinSide(): Promise<{ rows: Record<string, Stats>; error?: string }> {
  const json = join(await mkdtemp(join(tmpdir(), 'postjoin-bench-p2-')), 'reaction.json');
  const script = fileURLToPath(new URL('readiness-reaction.js', import.meta.url));
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', script, '--tier', 'fast', '--trials', String(postjoinTrials), '--json', json], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: cleanEnv(),
    });
    child.on('close', resolve);
  });
  if (code !== 0) return { rows: {}, error: `bench/readiness-reaction.ts --tier fast exited ${code}` };
  const out = JSON.parse(await readFile(json, 'utf8')) as { results: Record<string, Stats> };
  await rm(join(json, '..'), { recursive: true, force: true });
  return { rows: out.results };
}

/**
 * One bash trial: the loop starts, polls once (seen by the emulator), and the condition flips at a moment
 * uniformly spread over the loop's 1 s period; reaction = the first task's stamp − the flip.
 */
async function bashSide(kind: Kind, trials: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-p2-bash-'));
  const standin = kind === 'unit' ? await startSystemd1Standin() : undefined;
  const kubelet = await startKubeletStub();
  const url = kubelet.url;
  const out: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const stamp = join(dir, `stamp-${i}`);
      kubelet.setHealthy(false);
      standin?.unit('kubelet.service', { activeState: 'activating', subState: 'start' });
      const condition =
        kind === 'healthz'
          ? `curl -sf -o /dev/null ${url}`
          : `[ "$(busctl --address=${standin!.bus.address} get-property org.freedesktop.systemd1 ${unitPath('kubelet.service')} org.freedesktop.systemd1.Unit ActiveState 2>/dev/null)" = 's "active"' ]`;
      const script = join(dir, `wait-${i}.sh`);
      await writeFile(script, `#!/bin/bash\nuntil ${condition}; do sleep 1; done\n/bin/date +%s%6N > ${stamp}\n`);
      const before = kind === 'healthz' ? kubelet.polls : standin!.calls.length;
      const child = spawn('/bin/bash', [script], { stdio: 'ignore', env: cleanEnv() });
      const exited = new Promise((r) => child.on('close', r));
      const polled = () => (kind === 'healthz' ? kubelet.polls : standin!.calls.length) > before;
      for (let waited = 0; !polled(); waited += 5) {
        if (waited > 10_000) throw new Error(`the bash ${kind} loop never polled`);
        await sleep(5);
      }
      await sleep(50 + Math.random() * 1000);
      const flipAt = nowMs();
      if (kind === 'healthz') kubelet.setHealthy(true);
      else standin!.setState('kubelet.service', 'active', 'running');
      await exited;
      out.push(Number((await readFile(stamp, 'utf8')).trim()) / 1000 - flipAt);
    }
  } finally {
    await kubelet.close();
    await standin?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

const notes: string[] = [];
log(`p2: postjoin (bench/readiness-reaction.ts --tier fast), ${postjoinTrials} trials per condition`);
const pj = await postjoinSide();
if (pj.error) notes.push(pj.error);
// The two bash loops spend their time asleep, each against its own emulator: they run side by side.
log(`p2: bash loops (sleep 1), healthz and unit side by side, ${bashTrials} trials each`);
if (!which('curl')) notes.push('bash healthz loop skipped: no curl');
const [bashHealthz, bashUnit] = await Promise.all([which('curl') ? bashSide('healthz', bashTrials) : Promise.resolve([]), bashSide('unit', bashTrials)]);
const bash: Record<Kind, number[]> = { healthz: bashHealthz, unit: bashUnit };
const rows: Record<string, unknown> = {};
for (const kind of ['healthz', 'unit'] as const) {
  const p = pj.rows[`fast ${kind}: flip -> spawn (ms)`];
  const b = bash[kind].length ? stats(bash[kind]) : undefined;
  rows[kind] = {
    postjoinSpawnMs: p,
    bashSpawnMs: b,
    /** How many times longer the bash loop takes to react, medians of the same run. */
    bashOverPostjoin: p && b ? round(b.median / p.median, 1) : undefined,
    postjoinObservedMs: pj.rows[`fast ${kind}: flip -> observed (ms)`],
    postjoinReadyMs: pj.rows[`fast ${kind}: flip -> ready (ms)`],
    postjoinDispatchMs: pj.rows[`fast ${kind}: flip -> dispatch (ms)`],
  };
}
const all = pj.rows['fast all: flip -> spawn (ms)'];
const result = {
  postjoinTrialsPerCondition: postjoinTrials,
  bashTrialsPerCondition: bashTrials,
  rows,
  postjoinAllSpawnMs: all,
  bashAllSpawnMs: stats([...bash.healthz, ...bash.unit]),
  bashLoops: {
    healthz: 'until curl -sf -o /dev/null $URL; do sleep 1; done; /bin/date +%s%6N',
    unit: 'until [ "$(busctl --address=$BUS get-property org.freedesktop.systemd1 $UNIT_PATH org.freedesktop.systemd1.Unit ActiveState)" = \'s "active"\' ]; do sleep 1; done (systemctl is-active cannot be pointed at a private bus)',
  },
  postjoinRaw: pj.rows,
  notes,
};
for (const kind of ['healthz', 'unit'] as const) {
  const r = rows[kind] as { postjoinSpawnMs?: Stats; bashSpawnMs?: Stats };
  log(`p2: ${kind}: postjoin median ${r.postjoinSpawnMs?.median ?? '-'} ms, bash loop median ${r.bashSpawnMs?.median ?? '-'} ms`);
}
if (bash.healthz.length + bash.unit.length) log(`p2: bash all median ${round(median([...bash.healthz, ...bash.unit]), 1)} ms`);
await writeResult(args.json, result);
