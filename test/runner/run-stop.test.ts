// A run that was stopped (SIGTERM, runTimeout) before all its tasks ran is failed, exit 1, and `status` says so,
// wherever the stop lands: here, the bundle runs with a preload that sends SIGTERM to the agent at an exact point
// (while the state write that records a task's end is in flight) instead of by timing luck. Also SIGKILL at such a
// point: what the next start finds and runs again.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { logLines, runCli, taskList, workspace, type Workspace } from '../helpers/cli.js';
import { fsHooks } from '../helpers/fs-hooks.js';

interface Status {
  result: string;
  message?: string;
  tasks: { name: string; status: string; error?: string }[];
}

async function status(ws: Workspace, text = false) {
  const r = await runCli(['status', '--state-dir', ws.stateDir, ...(text ? [] : ['--output', 'json'])]);
  return { code: r.code, text: r.stdout, json: text ? undefined : (JSON.parse(r.stdout) as Status) };
}

/** SIGTERM to the agent while the state write that records `task` as succeeded is in flight. */
function sigtermWhenRecorded(task: string) {
  return fsHooks([{ fn: 'rename', path: '/state\\.json$', content: `"name": "${task}",[^}]*"status": "succeeded"`, signal: 'SIGTERM', delayMs: 300 }]);
}

async function until(file: string, ms = 20_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    if (await readFile(file).then(() => true, () => false)) return true;
  }
  return false;
}

const tasksOf = (text: string) => (JSON.parse(text) as Status).tasks.map((x) => [x.name, x.status]);

t.test('SIGTERM between two members of the last group: the group and the run are failed (stopped), exit 1', async (t) => {
  const ws = await workspace();
  const members = ['m1', 'm2', 'm3'].map((n) => `        - { name: ${n}, once: false, exec: { command: /bin/true } }`).join('\n');
  await ws.task('10.yaml', taskList(`  - name: g\n    parallel:\n      concurrency: 1\n      tasks:\n${members}\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: sigtermWhenRecorded('m1') });
  t.equal(r.code, 1, r.stdout.slice(-1500));
  const lines = logLines(r.stdout);
  t.ok(lines.some((l) => l.msg === 'received SIGTERM; stopping the running task and recording state'), 'the SIGTERM landed');
  t.notOk(lines.some((l) => String(l.msg).startsWith('run succeeded')), 'no "run succeeded" line');
  const s = await status(ws);
  t.equal(s.code, 1, '`status` exits 1');
  t.match(s.json, { result: 'failed', message: /^stopped by SIGTERM during group "g"; 2 tasks not run$/ });
  t.same(s.json?.tasks.map((x) => [x.name, x.status]), [['g', 'failed'], ['m1', 'succeeded'], ['m2', 'not-run'], ['m3', 'not-run']]);
  t.match(s.json?.tasks[0], { error: /^stopped by SIGTERM; 2 of 3 members not run$/ });
  const text = await status(ws, true);
  t.match(text.text, /^result: +failed \(exit 1\)$/m);
  t.match(text.text, /^message: +stopped by SIGTERM during group "g"; 2 tasks not run$/m);
});

t.test('SIGTERM while the first of two steps is being recorded: the second does not start, exit 1, "stopped before"', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: a, once: false, exec: { command: /bin/true } }\n  - { name: b, once: false, script: "touch ${join(ws.dir, 'b-ran')}" }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: sigtermWhenRecorded('a') });
  t.equal(r.code, 1, r.stdout.slice(-1500));
  const s = await status(ws);
  t.match(s.json, { result: 'failed', message: /^stopped by SIGTERM before task "b"; 1 task not run$/ });
  t.same(s.json?.tasks.map((x) => [x.name, x.status]), [['a', 'succeeded'], ['b', 'not-run']]);
});

t.test('SIGTERM once the first task\'s record is on disk: the second task, marked running in that record, ends not-run', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: a, once: false, exec: { command: /bin/true } }\n  - { name: b, once: false, script: "touch ${join(ws.dir, 'b-ran')}" }\n`));
  const paused = join(ws.dir, 'paused');
  const release = join(ws.dir, 'release');
  // Right after the record of a's end is renamed into place: SIGTERM to the agent, which is then held (its event
  // loop running, so the signal is handled) until the test has read that record.
  const env = fsHooks([{ fn: 'rename', path: '/state\\.json$', content: '"name": "a",[^}]*"status": "succeeded"', when: 'after', touch: paused, signal: 'SIGTERM', waitFor: release }]);
  const running = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env });
  t.ok(await until(paused), 'the record of a\'s end was written');
  const recorded = await readFile(join(ws.stateDir, 'state.json'), 'utf8');
  await writeFile(release, '');
  const r = await running;
  // One durable write records a's end and b's start: a crash from here on re-runs b, as a crash in b would.
  t.same(tasksOf(recorded), [['a', 'succeeded'], ['b', 'running']], 'the record of a\'s end marks b running');
  t.equal(r.code, 1, r.stdout.slice(-1500));
  t.ok(logLines(r.stdout).some((l) => l.msg === 'received SIGTERM; stopping the running task and recording state'), 'the SIGTERM landed');
  await t.rejects(readFile(join(ws.dir, 'b-ran')), 'b did not run');
  t.same(tasksOf(await readFile(join(ws.stateDir, 'state.json'), 'utf8')), [['a', 'succeeded'], ['b', 'not-run']], 'state.json: b is not-run, neither running nor failed');
  const s = await status(ws);
  t.equal(s.code, 1);
  t.match(s.json, { result: 'failed', message: /^stopped by SIGTERM before task "b"; 1 task not run$/ });
  t.same(s.json?.tasks.map((x) => [x.name, x.status]), [['a', 'succeeded'], ['b', 'not-run']]);
});

t.test('SIGKILL once the first task\'s record is on disk: the second shows running and runs on the next start, the first does not', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: a, script: "echo x >> ${join(ws.dir, 'a-ran')}" }\n  - { name: b, script: "echo x >> ${join(ws.dir, 'b-ran')}" }\n`));
  const env = fsHooks([{ fn: 'rename', path: '/state\\.json$', content: '"name": "a",[^}]*"status": "succeeded"', when: 'after', signal: 'SIGKILL' }]);
  const killed = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env });
  t.equal(killed.signal, 'SIGKILL');
  await t.rejects(readFile(join(ws.dir, 'b-ran')), 'b had not started');
  const mid = await status(ws);
  t.match(mid.json, { result: 'running' });
  t.same(mid.json?.tasks.map((x) => [x.name, x.status]), [['a', 'succeeded'], ['b', 'running']]);
  const again = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(again.code, 0, again.stdout.slice(-1500));
  t.equal(await readFile(join(ws.dir, 'a-ran'), 'utf8'), 'x\n', 'a, done once, did not run again');
  t.equal(await readFile(join(ws.dir, 'b-ran'), 'utf8'), 'x\n', 'b ran on the next start');
  t.same((await status(ws)).json?.tasks.map((x) => [x.name, x.status]), [['a', 'skipped-done'], ['b', 'succeeded']]);
});

t.test('SIGTERM during a task: the message names the stop and the task, and the later tasks are not run', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: a, once: false, exec: { command: /bin/sh, args: [-c, 'kill -TERM $PPID; sleep 30'] } }\n  - { name: b, exec: { command: /bin/true } }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 1, r.stdout.slice(-1500));
  const s = await status(ws);
  t.match(s.json, { result: 'failed', message: /^stopped by SIGTERM during task "a"; 1 task not run$/ });
  t.match(s.json?.tasks, [{ name: 'a', status: 'failed', error: /^stopped by SIGTERM/ }, { name: 'b', status: 'not-run' }]);
});

t.test('SIGTERM during a retry sleep: the sleep ends at once, no retry, the task is failed (stopped), exit 1', async (t) => {
  const ws = await workspace();
  const marker = join(ws.dir, 'attempts');
  // The first attempt leaves a process behind that sends SIGTERM 2 s later: well inside the 60 s retry delay.
  const script = `echo x >> ${marker}; agent=$PPID; (sleep 2; kill -TERM $agent) >/dev/null 2>&1 & exit 1`;
  await ws.task('10.yaml', taskList(`  - { name: a, once: false, retries: 3, retryDelay: 60s, script: "${script}" }\n`));
  const started = Date.now();
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 1, r.stdout.slice(-1500));
  t.ok(Date.now() - started < 20_000, 'the 60 s retry delay was not waited out');
  t.ok(logLines(r.stdout).some((l) => /attempt 1\/4 failed: .*; retrying in/.test(String(l.msg))), 'the stop came during the retry sleep');
  const s = await status(ws);
  t.match(s.json, { result: 'failed', message: /^stopped by SIGTERM during task "a"$/ });
  t.match(s.json?.tasks, [{ name: 'a', status: 'failed', attempts: 1, error: /; then stopped by SIGTERM before the retry$/ }]);
  t.equal((await readFile(marker, 'utf8')).split('\n').length - 1, 1, 'no second attempt');
});

t.test('runTimeout passing between two members of a group: failed, exit 1, the message names the deadline', async (t) => {
  const ws = await workspace('runTimeout: 1s\n');
  const members = ['m1', 'm2'].map((n) => `        - { name: ${n}, once: false, exec: { command: /bin/true } }`).join('\n');
  await ws.task('10.yaml', taskList(`  - name: g\n    parallel:\n      concurrency: 1\n      tasks:\n${members}\n`));
  // The write that records m1's end is held past the 1 s deadline.
  const env = fsHooks([{ fn: 'rename', path: '/state\\.json$', content: '"name": "m1",[^}]*"status": "succeeded"', delayMs: 1_500 }]);
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env });
  t.equal(r.code, 1, r.stdout.slice(-1500));
  const s = await status(ws);
  t.match(s.json, { result: 'failed', message: /^the run deadline \(runTimeout 1s\) passed during group "g"; 1 task not run$/ });
  t.same(s.json?.tasks.map((x) => [x.name, x.status]), [['g', 'failed'], ['m1', 'succeeded'], ['m2', 'not-run']]);
});
