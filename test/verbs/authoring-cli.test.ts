// Issue 20, items 3 and 5, as the user sees them: the bundle as a process, `validate`, `plan`, `tags` and `run`.
import t from 'tap';
import { logLines, runCli, taskList, workspace } from '../helpers/cli.js';

const LABEL_TASK = '  - name: label\n    exec:\n      command: /bin/echo\n      args: ["--name=$POSTJOIN_NODE_NAME"]\n';
const WARNING = 'task "label": exec passes "$POSTJOIN_NODE_NAME" literally (no shell expands it); use a script task, or set the value in env';

t.test('validate: $VAR in an exec argument is a warning with its line; the exit stays 0', async (t) => {
  const ws = await workspace();
  const f = await ws.task('10-label.yaml', taskList(LABEL_TASK));
  const r = await runCli(['validate', f]);
  t.equal(r.code, 0, r.stdout);
  t.equal(
    r.stdout,
    [
      `ok       ${f} (1 task)`,
      `warning: file:${f}: tasks[0].exec.args[0], line 7: ${WARNING}`,
      'valid: 1 task(s) in 1 file(s); 1 warning(s)',
      '',
    ].join('\n'),
  );
  t.equal(r.stderr, '');
});

t.test('validate --output json is pure JSON, with the warnings in it', async (t) => {
  const ws = await workspace();
  const f = await ws.task('10-label.yaml', taskList(LABEL_TASK));
  const r = await runCli(['validate', '--output', 'json', f]);
  t.equal(r.code, 0);
  const j = JSON.parse(r.stdout) as { valid: boolean; problems: unknown[]; warnings: unknown[] };
  t.equal(j.valid, true);
  t.same(j.problems, []);
  t.same(j.warnings, [{ source: `file:${f}`, at: 'tasks[0].exec.args[0]', line: 7, message: WARNING }]);
});

t.test('plan: the warning goes to stderr, the plan to stdout, exit 0', async (t) => {
  const ws = await workspace();
  const f = await ws.task('10-label.yaml', taskList(LABEL_TASK));
  const r = await runCli(['plan', '--config', ws.configPath, '--output', 'json']);
  t.equal(r.code, 0, r.stderr);
  t.same((JSON.parse(r.stdout) as { tasks: { name: string }[] }).tasks.map((x) => x.name), ['label']);
  const warns = logLines(r.stderr).filter((l) => l.level === 'warn');
  t.same(warns.map((l) => l.msg), [`file:${f}: tasks[0].exec.args[0], line 7: ${WARNING}`]);
});

t.test('tags: the warning is said on stderr; the tags are still printed', async (t) => {
  const ws = await workspace();
  const f = await ws.task('tasks.yaml', taskList(LABEL_TASK));
  const r = await runCli(['tags', '--tasks', f]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'postjoin:010-label=exec /bin/echo --name=$POSTJOIN_NODE_NAME\n');
  t.match(r.stderr, `postjoin tags: warning: file:${f}: tasks[0].exec.args[0], line 7: ${WARNING}\n`);
});

t.test('run: the warning is in the journal once, at plan time, before the task runs; the task gets the literal text', async (t) => {
  const ws = await workspace();
  // ls refuses the option and quotes it back: what the program got, and a failure, so that it is attempted twice.
  const f = await ws.task('10-label.yaml', taskList(`${LABEL_TASK.replace('/bin/echo', '/bin/ls')}    retries: 1\n    retryDelay: 10ms\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: { POSTJOIN_NODE_NAME: 'not-this' } });
  t.equal(r.code, 1, 'the task fails on purpose, twice');
  const lines = logLines(r.stdout);
  const warns = lines.filter((l) => typeof l.msg === 'string' && (l.msg as string).includes('literally'));
  t.equal(warns.length, 1, 'one warning, not one per attempt');
  t.equal(warns[0]!.level, 'warn');
  t.equal(warns[0]!.msg, `file:${f}: tasks[0].exec.args[0], line 7: ${WARNING}`);
  const first = lines.findIndex((l) => l.task === 'label');
  t.ok(first > lines.indexOf(warns[0]!), 'said before the task starts');
  const said = lines.filter((l) => l.task === 'label' && l.stream === 'stderr' && /unrecognized option/.test(l.msg as string)).map((l) => l.msg as string);
  t.equal(said.length, 2, 'two attempts');
  t.match(said[0], "'--name=$POSTJOIN_NODE_NAME'", 'the program got the literal text');
});

t.test('validate: a misspelled required key is one problem, at its own line, naming the key it meant', async (t) => {
  const ws = await workspace();
  const f = await ws.task('20-pull.yaml', taskList('  - name: prepull\n    pull:\n      concurrency: 2\n      image: [public.ecr.aws/x/y:1]\n    retires: 2\n'));
  const r = await runCli(['validate', f]);
  t.equal(r.code, 2);
  t.equal(
    r.stdout,
    [
      `invalid  ${f} (1 task)`,
      `file:${f}: tasks[0].pull.image, line 7: unknown key "image"; did you mean "images"? ("images" is required)`,
      `file:${f}: tasks[0].retires, line 8: unknown key "retires"; did you mean "retries"?`,
      '2 problem(s) found',
      '',
    ].join('\n'),
  );
});
