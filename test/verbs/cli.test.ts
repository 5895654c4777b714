import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { verbs } from '../../src/verbs/catalog.js';
import { logLines, runCli, runSummary, taskList, workspace } from '../helpers/cli.js';

t.test('--version, --help and usage errors', async (t) => {
  const v = await runCli(['--version']);
  t.equal(v.code, 0);
  t.match(v.stdout, /^postjoin \d+\.\d+\.\d+\n$/);
  const h = await runCli(['--help']);
  t.equal(h.code, 0);
  for (const verb of verbs.map((v) => v.name)) t.match(h.stdout, new RegExp(`\\n  ${verb} `));
  for (const code of [0, 1, 2, 3, 4]) t.match(h.stdout, new RegExp(`\\n  ${code}  \\S`), `exit code ${code} is documented`);
  const vh = await runCli(['plan', '--help']);
  t.equal(vh.code, 0);
  t.match(vh.stdout, /Usage: postjoin plan/);
  t.match(vh.stdout, /--show-secrets/);
  t.match(vh.stdout, /Exit codes:/);
  const none = await runCli([]);
  t.equal(none.code, 2, 'no verb is a usage error');
  const unknown = await runCli(['deploy']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, `unknown verb "deploy"; verbs are ${verbs.map((v) => v.name).join(', ')}`);
  const badFlag = await runCli(['plan', '--frobnicate']);
  t.equal(badFlag.code, 2);
  t.match(badFlag.stderr, /Unknown option '--frobnicate'/);
  const badOutput = await runCli(['status', '--output', 'yaml']);
  t.equal(badOutput.code, 2);
  t.match(badOutput.stderr, /--output must be text or json/);
});

t.test('run: ordered tasks, logs on stdout, a summary, state; a rerun skips done tasks', async (t) => {
  const ws = await workspace();
  await ws.task('20-second.yaml', taskList(`  - { name: c, script: "echo c >> ${ws.dir}/order" }\n`));
  await ws.task('10-first.yaml', taskList(`  - { name: a, exec: { command: /bin/sh, args: [-c, "echo a >> ${ws.dir}/order"] } }\n  - { name: b, script: "echo b >> ${ws.dir}/order; echo to-stdout" }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '', 'run writes nothing to stderr');
  t.equal(await readFile(join(ws.dir, 'order'), 'utf8'), 'a\nb\nc\n');
  const lines = logLines(r.stdout);
  t.match(runSummary(lines), { level: 'info', succeeded: 3, msg: /^run succeeded: 3 succeeded in / });
  // The workspace's config leaves kubernetes.enabled at auto, and this machine has no kubelet kubeconfig: one info
  // line says so after the result (decided when reporting, issue 17 item 3), and nothing else follows it.
  t.match(lines.at(-1), { level: 'info', msg: /^not reporting to the Node: kubernetes\.enabled is auto and \/var\/lib\/kubelet\/kubeconfig does not exist/ });
  t.ok(lines.some((l) => l.task === 'b' && l.stream === 'stdout' && l.msg === 'to-stdout'), 'task output is forwarded with the task name');
  t.equal((await stat(ws.stateDir)).mode & 0o777, 0o700);

  const again = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(again.code, 0);
  t.match(runSummary(logLines(again.stdout)), { msg: /^run succeeded: 3 skipped-done in / });
  t.equal(await readFile(join(ws.dir, 'order'), 'utf8'), 'a\nb\nc\n');

  const status = await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json']);
  t.equal(status.code, 0);
  const s = JSON.parse(status.stdout) as Record<string, unknown>;
  t.same(Object.keys(s).sort(), ['bootId', 'finishedAt', 'instanceId', 'result', 'startedAt', 'tasks']);
  t.equal(s.result, 'succeeded');
  t.match(s.instanceId, /^machine-id:|^generated:/);
  t.same(
    (s.tasks as Record<string, unknown>[]).map((x) => [x.name, x.status, Object.keys(x).sort().join(',')]),
    [
      ['a', 'skipped-done', 'attempts,durationMs,exitCode,kind,name,source,startedAt,status'],
      ['b', 'skipped-done', 'attempts,durationMs,exitCode,kind,name,source,startedAt,status'],
      ['c', 'skipped-done', 'attempts,durationMs,exitCode,kind,name,source,startedAt,status'],
    ],
  );
  const text = await runCli(['status', '--state-dir', ws.stateDir]);
  t.match(text.stdout, /result:\s+succeeded \(exit 0\)/);
  t.match(text.stdout, /\nb\s+script\s+skipped-done\s+0\s+0s\s+-\s/);
});

t.test('a plan whose task 3 of 3 is invalid runs nothing (exit 2) and records why', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: first, script: "touch ${ws.dir}/first-ran" }
  - { name: second, script: "true" }
  - { name: third, exec: { command: /bin/echo, args: oops } }
`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 2);
  await t.rejects(stat(join(ws.dir, 'first-ran')), 'task 1 left no side effect');
  const lines = logLines(r.stdout);
  t.match(lines.filter((l) => l.level === 'error').map((l) => l.msg), [
    `file:${ws.tasksDir}/10.yaml: tasks[2].exec.args, line 6: expected a list of strings`,
    'invalid input: 1 problem(s); no task was started',
  ]);
  const status = await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json']);
  t.equal(status.code, 1, 'status exits 1 when the last run did not succeed');
  t.match(JSON.parse(status.stdout), { result: 'invalid', tasks: [], message: /tasks\[2\]\.exec\.args/ });
});

t.test('an invalid config is exit 2, recorded in state, and runs nothing', async (t) => {
  const ws = await workspace('bogus: true\n');
  await ws.task('10.yaml', taskList(`  - { name: first, script: "touch ${ws.dir}/ran" }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 2);
  t.ok(logLines(r.stdout).some((l) => l.msg === `config ${ws.configPath}: bogus, line 5: unknown key "bogus"`));
  await t.rejects(stat(join(ws.dir, 'ran')));
  const plan = await runCli(['plan', '--config', ws.configPath]);
  t.equal(plan.code, 2);
  t.equal(plan.stdout, '', 'a failed plan prints no result');
  t.match(plan.stderr, /unknown key "bogus"/);
});

t.test('a failing essential task is exit 1; status shows failed and not-run', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList('  - { name: ok, script: "true" }\n  - { name: bad, script: "echo nope >&2; exit 9" }\n  - { name: never, script: "true" }\n'));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 1);
  const s = JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout) as { result: string; tasks: { name: string; status: string; exitCode: number | null }[] };
  t.equal(s.result, 'failed');
  t.same(s.tasks.map((x) => [x.name, x.status, x.exitCode]), [['ok', 'succeeded', 0], ['bad', 'failed', 9], ['never', 'not-run', null]]);
});

t.test('plan: text and JSON shapes, secrets redacted unless asked, logs on stderr only', async (t) => {
  const ws = await workspace();
  await ws.task('10-x.yaml', taskList(`  - name: conf
    env: { TOKEN: s3cr3t }
    file: { path: /etc/x.conf, content: "password=hunter2", mode: "0600" }
  - name: warm
    parallel:
      concurrency: 2
      tasks:
        - { name: m1, script: "echo 1", timeout: 90s, retries: 2 }
`));
  const json = await runCli(['plan', '--config', ws.configPath, '--output', 'json']);
  t.equal(json.code, 0, json.stderr);
  const plan = JSON.parse(json.stdout) as { tasks: Record<string, unknown>[] };
  t.same(plan.tasks[0], {
    name: 'conf',
    kind: 'file',
    source: `file:${ws.tasksDir}/10-x.yaml#tasks[0]`,
    timeout: '10m',
    retries: 0,
    retryDelay: '1s',
    onFailure: 'abort',
    once: true,
    env: { TOKEN: '<redacted>' },
    file: { path: '/etc/x.conf', encoding: 'utf8', mode: '0600', content: { sha256: createHash('sha256').update('password=hunter2').digest('hex'), bytes: 16 } },
  });
  t.match(plan.tasks[1], { name: 'warm', kind: 'parallel', onFailure: 'abort', parallel: { concurrency: 2, tasks: [{ name: 'm1', kind: 'script', source: /#tasks\[1\]\.parallel\.tasks\[0\]$/, timeout: '1m30s', retries: 2, script: 'echo 1' }] } });
  t.notMatch(json.stdout, /s3cr3t|hunter2/);
  const shown = await runCli(['plan', '--config', ws.configPath, '--output', 'json', '--show-secrets']);
  t.match(JSON.parse(shown.stdout), { tasks: [{ env: { TOKEN: 's3cr3t' }, file: { content: 'password=hunter2' } }] });
  const text = await runCli(['plan', '--config', ws.configPath]);
  t.match(text.stdout, /^#\s+NAME\s+KIND\s+ONCE\s+TIMEOUT\s+SOURCE\n1\s+conf\s+file\s+yes\s+10m\s+file:/);
  t.match(text.stdout, /\n2\.1\s+m1\s+script\s+yes\s+1m30s/);
  t.notMatch(text.stdout, /hunter2/);
});

t.test('status with no state: "no run recorded", exit 0', async (t) => {
  const ws = await workspace();
  const json = await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json']);
  t.equal(json.code, 0);
  t.same(JSON.parse(json.stdout), { result: 'none', tasks: [] });
  const text = await runCli(['status', '--state-dir', ws.stateDir]);
  t.equal(text.stdout, 'no run recorded\n');
});

t.test('validate lists every error in every file and exits 2; valid files exit 0', async (t) => {
  const ws = await workspace();
  const good = await ws.task('good.yaml', taskList('  - { name: a, script: "true" }\n'));
  const bad1 = await ws.task('bad1.yaml', taskList('  - { name: b, exec: { command: /bin/true }, script: "x" }\n  - { name: c, file: { path: rel, content: x } }\n'));
  const bad2 = await ws.task('bad2.json', '{"apiVersion":"postjoin/v1alpha1","kind":"TaskList","tasks":[{"name":"a","script":"dup"}]}');
  const ok = await runCli(['validate', good]);
  t.equal(ok.code, 0);
  t.match(ok.stdout, /ok\s+.*good.yaml \(1 task\)\nvalid: 1 task\(s\) in 1 file\(s\)/);
  const r = await runCli(['validate', good, bad1, bad2]);
  t.equal(r.code, 2);
  t.match(r.stdout, /has 2 kinds \(exec, script\)/);
  t.match(r.stdout, /tasks\[1\]\.file\.path.*absolute path/);
  t.match(r.stdout, /bad2\.json#tasks\[0\]: task name "a" is already used by .*good\.yaml#tasks\[0\]/);
  t.match(r.stdout, /3 problem\(s\) found/);
  const json = await runCli(['validate', '--output', 'json', bad1, '/nonexistent.yaml']);
  t.equal(json.code, 2);
  const j = JSON.parse(json.stdout) as { valid: boolean; problems: { source: string; message: string }[] };
  t.equal(j.valid, false);
  t.ok(j.problems.some((p) => p.source === 'file:/nonexistent.yaml' && /cannot read/.test(p.message)));
  const empty = await runCli(['validate']);
  t.equal(empty.code, 2);
});

t.test('validate --config applies that policy', async (t) => {
  const ws = await workspace('policy: { file: { allow: [file] } }\n');
  const f = await ws.task('x.yaml', taskList('  - { name: a, script: "true" }\n'));
  const r = await runCli(['validate', '--config', ws.configPath, f]);
  t.equal(r.code, 2);
  t.match(r.stdout, /task "a": kind "script" is not allowed from source "file" \(policy.file.allow: \[file\]\)/);
});

t.test('SIGTERM during a task: the tree is killed, state says failed, exit is non-zero', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: long, script: "echo $$ > ${ws.dir}/pid; sleep 60 & wait" }\n  - { name: after, script: "true" }\n`));
  let agent = 0;
  const running = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { onSpawn: (pid) => (agent = pid) });
  let shell = 0;
  for (let i = 0; i < 250 && !shell; i++) {
    shell = Number((await readFile(join(ws.dir, 'pid'), 'utf8').catch(() => '')).trim());
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(shell > 0, 'the task started');
  const sent = Date.now();
  process.kill(agent, 'SIGTERM');
  const r = await running;
  t.ok(Date.now() - sent < 7000, 'stopped within the kill grace');
  t.equal(r.code, 1);
  t.throws(() => process.kill(shell, 0), 'the task process is gone');
  t.ok(logLines(r.stdout).some((l) => l.msg === 'received SIGTERM; stopping the running task and recording state'));
  const s = JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout) as { result: string; tasks: { status: string; error?: string }[] };
  t.equal(s.result, 'failed');
  t.match(s.tasks, [{ status: 'failed', error: /^stopped by SIGTERM/ }, { status: 'not-run' }]);
});

t.test('SIGKILL during a once task: on restart, finished tasks are skipped and the interrupted one runs again', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: done-first, script: "echo x >> ${ws.dir}/first" }
  - { name: interrupted, script: "echo x >> ${ws.dir}/second; [ -e ${ws.dir}/go ] || sleep 60" }
`));
  let agent = 0;
  const running = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { onSpawn: (pid) => (agent = pid) });
  for (let i = 0; i < 250; i++) {
    if (await readFile(join(ws.dir, 'second'), 'utf8').catch(() => '')) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(agent, 'SIGKILL');
  await running;
  const mid = JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout) as { result: string; tasks: { status: string }[] };
  t.equal(mid.result, 'running', 'a run that died says so');
  t.match(mid.tasks, [{ status: 'succeeded' }, { status: 'running' }]);
  await writeFile(join(ws.dir, 'go'), '');
  // The killed agent's task (sleep 60) may still hold nothing of ours; the stale lock is taken over.
  const again = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(again.code, 0, again.stdout);
  t.equal(await readFile(join(ws.dir, 'first'), 'utf8'), 'x\n', 'the finished task did not run again');
  t.equal(await readFile(join(ws.dir, 'second'), 'utf8'), 'x\nx\n', 'the interrupted task ran again');
});

t.test('a second run while one is in progress is refused without touching its state', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: slow, script: "touch ${ws.dir}/started; while [ ! -e ${ws.dir}/go ]; do sleep 0.05; done" }\n`));
  const first = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  for (let i = 0; i < 250 && !(await stat(join(ws.dir, 'started')).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 20));
  const second = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(second.code, 2);
  t.match(logLines(second.stdout).at(-1), { level: 'error', msg: /another postjoin run \(pid \d+\) is in progress/ });
  await writeFile(join(ws.dir, 'go'), '');
  t.equal((await first).code, 0);
  t.match(JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout), { result: 'succeeded' });
});
