import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { StopReason } from '../../src/base/stop-reason.js';
import { createHost } from '../../src/host/host.js';
import type { Plan } from '../../src/plan/task.js';
import { runPlan } from '../../src/runner/run-plan.js';
import { RunRecorder } from '../../src/state/run-recorder.js';
import { StateStore } from '../../src/state/state-store.js';
import { memoryLogger } from '../helpers/memory-log.js';
import { HEADER, config, planFrom } from '../helpers/plan.js';
import { runRecorded } from '../helpers/run-plan.js';

const noNotify = { status() {}, flush: async () => {} };

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'postjoin-runner-'));
}

t.test('retryDelay: 5m is honoured: the retry is announced in 5m and not run before a stop ends the wait', async (t) => {
  const dir = await scratch();
  const stop = new AbortController();
  const plan = planFrom(`${HEADER}tasks:\n  - { name: later, retries: 1, retryDelay: 5m, script: "echo x >> ${dir}/attempts; exit 3" }\n`);
  const running = runRecorded(plan, { stop: stop.signal });
  const end = Date.now() + 5000;
  while (Date.now() < end && !(await readFile(join(dir, 'attempts')).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 500));
  stop.abort(StopReason.signal('SIGTERM'));
  const r = await running;
  t.match(r.records.find((x) => x.level === 'warn'), { task: 'later', msg: /attempt 1\/2 failed: script exited with code 3; retrying in 5m$/ });
  t.equal(await readFile(join(dir, 'attempts'), 'utf8'), 'x\n', 'one attempt: the retry was still waiting');
  t.match(r.state.tasks[0], { status: 'failed', attempts: 1, error: /then stopped by SIGTERM before the retry/ });
});

t.test('tasks run in order; state records each; a rerun skips done tasks', async (t) => {
  const dir = await scratch();
  const plan = planFrom(`${HEADER}tasks:
  - { name: one, script: "echo 1 >> ${dir}/order" }
  - { name: two, exec: { command: /bin/sh, args: [-c, "echo 2 >> ${dir}/order"] } }
  - { name: three, once: false, script: "echo 3 >> ${dir}/order" }
`);
  const first = await runRecorded(plan);
  t.equal(first.outcome.exitCode, 0);
  t.same(first.status, { one: 'succeeded', two: 'succeeded', three: 'succeeded' });
  t.equal(await readFile(join(dir, 'order'), 'utf8'), '1\n2\n3\n');
  t.same(Object.keys(first.state.done).sort(), ['one', 'two'], 'once:false is never marked done');
  t.match(first.state.tasks[0], { attempts: 1, exitCode: 0, hash: /^sha256:/ });

  const second = await runRecorded(plan, { stateDir: first.stateDir });
  t.same(second.status, { one: 'skipped-done', two: 'skipped-done', three: 'succeeded' });
  t.equal(await readFile(join(dir, 'order'), 'utf8'), '1\n2\n3\n3\n');
  t.ok(second.messages().includes('task one (1/3): already done on this instance with this content; skipped'));
});

t.test('once: a changed task, or another instance, runs again', async (t) => {
  const dir = await scratch();
  const v1 = planFrom(`${HEADER}tasks:\n  - { name: cfg, script: "echo v1 >> ${dir}/log" }\n`);
  const v2 = planFrom(`${HEADER}tasks:\n  - { name: cfg, script: "echo v2 >> ${dir}/log" }\n`);
  const first = await runRecorded(v1);
  await runRecorded(v1, { stateDir: first.stateDir });
  const changed = await runRecorded(v2, { stateDir: first.stateDir });
  t.same(changed.status, { cfg: 'succeeded' });
  const other = await runRecorded(v2, { stateDir: first.stateDir, instanceId: 'i-other' });
  t.same(other.status, { cfg: 'succeeded' }, 'state baked into an AMI does not count on a new instance');
  t.equal(await readFile(join(dir, 'log'), 'utf8'), 'v1\nv2\nv2\n');
});

t.test('retries: a flaky task succeeds on a later attempt, each failure logged as a warning', async (t) => {
  const dir = await scratch();
  const plan = planFrom(`${HEADER}tasks:
  - name: flaky
    retries: 3
    retryDelay: 10ms
    script: |
      n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n+1)) > ${dir}/n
      [ "$n" -ge 2 ] || { echo "not yet ($n)" >&2; exit 7; }
`);
  const r = await runRecorded(plan);
  t.equal(r.outcome.exitCode, 0);
  t.match(r.state.tasks[0], { status: 'succeeded', attempts: 3 });
  const warns = r.records.filter((x) => x.level === 'warn');
  t.equal(warns.length, 2);
  t.match(warns[0], { task: 'flaky', attempt: 1, exit_code: 7, msg: /attempt 1\/4 failed: script exited with code 7: not yet \(0\); retrying in 10ms/ });
  t.equal(r.records.filter((x) => x.level === 'error').length, 0);
});

t.test('an essential failure stops the run; later tasks are not run; one error line', async (t) => {
  const dir = await scratch();
  const plan = planFrom(`${HEADER}tasks:
  - { name: ok, script: "true" }
  - { name: broken, retries: 1, retryDelay: 1ms, exec: { command: /bin/sh, args: [-c, "echo boom >&2; exit 4"] } }
  - { name: never, script: "touch ${dir}/never" }
`);
  const r = await runRecorded(plan);
  t.equal(r.outcome.exitCode, 1);
  t.match(r.outcome.message, /task "broken" failed: \/bin\/sh exited with code 4: boom/);
  t.same(r.status, { ok: 'succeeded', broken: 'failed', never: 'not-run' });
  t.match(r.state.tasks[1], { attempts: 2, exitCode: 4, error: /exited with code 4/ });
  const errors = r.records.filter((x) => x.level === 'error');
  t.equal(errors.length, 1);
  t.match(errors[0], { task: 'broken', kind: 'exec', source: /#tasks\[1\]/, attempts: 2, exit_code: 4, msg: 'task broken (2/3) failed after 2 attempts: /bin/sh exited with code 4: boom' });
  await t.rejects(readFile(join(dir, 'never')), 'the later task left no side effect');
  t.equal(r.outcome.counts['not-run'], 1);
});

t.test('onFailure: continue records "continued" and goes on', async (t) => {
  const r = await runRecorded(planFrom(`${HEADER}tasks:\n  - { name: optional, onFailure: continue, script: "exit 1" }\n  - { name: after, script: "true" }\n`));
  t.equal(r.outcome.exitCode, 0);
  t.same(r.status, { optional: 'continued', after: 'succeeded' });
  t.notOk('optional' in r.state.done);
  t.equal(r.records.filter((x) => x.level === 'error').length, 0, 'a continued failure is a warning, not an error');
});

t.test('timeouts kill the task and may be retried', async (t) => {
  const started = Date.now();
  const r = await runRecorded(planFrom(`${HEADER}tasks:\n  - { name: slow, timeout: 200ms, retries: 1, retryDelay: 1ms, script: "sleep 30" }\n`));
  t.equal(r.outcome.exitCode, 1);
  t.match(r.state.tasks[0], { status: 'failed', attempts: 2, error: /^timed out after 200ms \(script was killed by SIGTERM\)/ });
  t.ok(Date.now() - started < 10_000);
});

t.test('parallel group: bounded concurrency, all members run', async (t) => {
  const dir = await scratch();
  const member = (i: number) => `        - { name: m${i}, script: "echo start >> ${dir}/events; sleep 0.3; echo end >> ${dir}/events" }`;
  const plan = planFrom(`${HEADER}tasks:\n  - name: g\n    parallel:\n      concurrency: 2\n      tasks:\n${[1, 2, 3, 4].map(member).join('\n')}\n`);
  const r = await runRecorded(plan);
  t.equal(r.outcome.exitCode, 0);
  t.same(r.status, { g: 'succeeded', m1: 'succeeded', m2: 'succeeded', m3: 'succeeded', m4: 'succeeded' });
  let running = 0;
  let peak = 0;
  for (const e of (await readFile(join(dir, 'events'), 'utf8')).trim().split('\n')) {
    running += e === 'start' ? 1 : -1;
    peak = Math.max(peak, running);
  }
  t.equal(peak, 2, 'never more than `concurrency` members at once');
  t.same(r.state.tasks.filter((x) => x.group === 'g').map((x) => x.name), ['m1', 'm2', 'm3', 'm4']);
  const again = await runRecorded(plan, { stateDir: r.stateDir });
  t.same(again.status, { g: 'skipped-done', m1: 'skipped-done', m2: 'skipped-done', m3: 'skipped-done', m4: 'skipped-done' });
});

t.test('parallel group: an essential member failure lets running siblings finish, starts no new ones, fails the run', async (t) => {
  const dir = await scratch();
  const plan = planFrom(`${HEADER}tasks:
  - name: g
    parallel:
      concurrency: 2
      tasks:
        - { name: bad, script: "sleep 0.1; exit 2" }
        - { name: sibling, script: "sleep 0.5; touch ${dir}/sibling" }
        - { name: queued, script: "touch ${dir}/queued" }
  - { name: later, script: "true" }
`);
  const r = await runRecorded(plan);
  t.equal(r.outcome.exitCode, 1);
  t.same(r.status, { g: 'failed', bad: 'failed', sibling: 'succeeded', queued: 'not-run', later: 'not-run' });
  t.ok(await readFile(join(dir, 'sibling')).then(() => true), 'the running sibling finished');
  await t.rejects(readFile(join(dir, 'queued')));
  t.equal(r.records.filter((x) => x.level === 'error').length, 1, 'only the member itself is an error line');
});

t.test('parallel group: a continue-member failure does not fail the group; a continue group does not fail the run', async (t) => {
  const r = await runRecorded(planFrom(`${HEADER}tasks:
  - name: g1
    parallel: { tasks: [{ name: soft, onFailure: continue, script: "exit 1" }, { name: fine, script: "true" }] }
  - name: g2
    onFailure: continue
    parallel: { tasks: [{ name: hard, script: "exit 1" }] }
  - { name: last, script: "true" }
`));
  t.equal(r.outcome.exitCode, 0);
  t.same(r.status, { g1: 'succeeded', soft: 'continued', fine: 'succeeded', g2: 'continued', hard: 'failed', last: 'succeeded' });
});

t.test('a stop (SIGTERM) kills the running task, records it failed, and runs nothing more', async (t) => {
  const dir = await scratch();
  const stop = new AbortController();
  const plan = planFrom(`${HEADER}tasks:\n  - { name: long, retries: 5, script: "touch ${dir}/started; sleep 30" }\n  - { name: next, script: "true" }\n`);
  const running = runRecorded(plan, { stop: stop.signal });
  const end = Date.now() + 5000;
  while (Date.now() < end && !(await readFile(join(dir, 'started')).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 20));
  stop.abort(StopReason.signal('SIGTERM'));
  const r = await running;
  t.equal(r.outcome.exitCode, 1);
  t.same(r.status, { long: 'failed', next: 'not-run' });
  t.match(r.state.tasks[0], { attempts: 1, error: /^stopped by SIGTERM/ });
  t.notOk('long' in r.state.done);
});

t.test('when state cannot be written, the run stops before the next task', async (t) => {
  const stateDir = await scratch();
  const dir = await scratch();
  const plan = planFrom(`${HEADER}tasks:\n  - { name: wipes-state, script: "rm -rf ${stateDir}" }\n  - { name: next, script: "touch ${dir}/next" }\n`);
  const mem = memoryLogger();
  const store = await StateStore.open(stateDir, mem.log);
  const recorder = new RunRecorder(store, undefined);
  recorder.setPlan(plan);
  recorder.setInstanceId('i-test');
  const outcome = await runPlan(plan, { config: config(), log: mem.log, host: createHost(), instanceId: 'i-test', recorder, notify: noNotify, stop: new AbortController().signal });
  t.equal(outcome.exitCode, 1);
  t.match(outcome.message, /cannot write the state file/);
  await t.rejects(readFile(join(dir, 'next')), 'no task runs unrecorded');
  t.ok(mem.messages().some((m) => /cannot write the state file: ENOENT.*; stopping so that no task runs unrecorded/.test(m)));
});

t.test('a record that cannot be written leaves the next task not-run, not marked running', async (t) => {
  const stateDir = await scratch();
  const plan = planFrom(`${HEADER}tasks:\n  - { name: wipes-state, script: "rm -rf ${stateDir}" }\n  - { name: next, once: false, exec: { command: /bin/true } }\n`);
  const mem = memoryLogger();
  const recorder = new RunRecorder(await StateStore.open(stateDir, mem.log), undefined);
  recorder.setPlan(plan);
  recorder.setInstanceId('i-test');
  const outcome = await runPlan(plan, { config: config(), log: mem.log, host: createHost(), instanceId: 'i-test', recorder, notify: noNotify, stop: new AbortController().signal });
  t.match(outcome, { exitCode: 1, message: /^cannot write the state file/, counts: { succeeded: 1, 'not-run': 1 } });
  t.match(recorder.state.tasks, [{ name: 'wipes-state', status: 'succeeded' }, { name: 'next', status: 'not-run', attempts: 0 }]);
  t.notOk(recorder.state.tasks[1]?.startedAt, 'no start time for a task that never started');
});

t.test('a task kind that ignores its signal cannot hang the run', async (t) => {
  const { taskKinds } = await import('../../src/kinds/registry.js');
  const { defineKind } = await import('../../src/kinds/kind.js');
  const { z } = await import('zod');
  const stubborn = defineKind({ kind: 'stubborn', summary: 'test only', schema: z.strictObject({}), tagsByDefault: false, run: () => new Promise<void>(() => {}) });
  (taskKinds as unknown as unknown[]).push(stubborn);
  t.teardown(() => void (taskKinds as unknown as unknown[]).pop());
  const plan: Plan = {
    steps: [{ name: 's', kind: 'stubborn', origin: 'test', source: 'file', spec: {}, timeoutMs: 50, retries: 0, retryDelayMs: 0, onFailure: 'abort', once: true, hash: 'x' }],
  };
  const stateDir = await scratch();
  const mem = memoryLogger();
  const recorder = new RunRecorder(await StateStore.open(stateDir, mem.log), undefined);
  recorder.setPlan(plan);
  const outcome = await runPlan(plan, { config: config(), log: mem.log, host: createHost(), instanceId: 'i', recorder, notify: noNotify, stop: new AbortController().signal, windDownMs: 100 });
  t.equal(outcome.exitCode, 1);
  t.match(outcome.message, /timed out after 50ms.*did not stop within 100ms/);
});
