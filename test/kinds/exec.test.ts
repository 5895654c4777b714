// The `exec` task kind: its schema, its run (an argv in its own process group, never a shell, through the Host),
// what a failure says, and its tag form (`exec PATH ARG…`), which the default policy refuses from tags.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { defaultConfig } from '../../src/config/agent-config.js';
import { execKind } from '../../src/kinds/exec.js';
import { tagValueFromSpec, taskFromTagValue } from '../../src/sources/tag-grammar.js';
import { HEADER, planFrom, planProblems as problems } from '../helpers/plan.js';
import { runRecorded } from '../helpers/run-plan.js';

const F = 'file:/etc/postjoin/tasks.d/10-x.yaml';

t.test('exec args that are not a list', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    exec: { command: /bin/echo, args: "hello world" }\n`), [
    `${F}: tasks[0].exec.args, line 5: expected a list of strings`,
  ]);
});

t.test('command: required, not empty, no NUL; args default to none', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - { name: a, exec: { args: [x] } }\n  - { name: b, exec: { command: "" } }\n`), [
    `${F}: tasks[0].exec.command, line 4: required key "command" is missing (expected exec.command as a string)`,
    `${F}: tasks[1].exec.command, line 5: exec.command must not be empty`,
  ]);
  t.match(planFrom(`${HEADER}tasks:\n  - { name: a, exec: { command: /bin/true } }\n`).steps[0], { kind: 'exec', spec: { command: '/bin/true', args: [] } });
});

t.test('the argv reaches the program word for word, never a shell; env and cwd reach it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-exec-'));
  const r = await runRecorded(
    planFrom(`${HEADER}tasks:
  - name: argv
    cwd: ${dir}
    env: { GREETING: hello }
    exec: { command: /bin/sh, args: [-c, 'printf "%s|" "$@" "$GREETING" "$PWD" "$POSTJOIN_TASK" > out', sh, "$HOME; touch pwned", "*"] }
`),
  );
  t.equal(r.outcome.exitCode, 0, r.errors.join('\n'));
  t.equal(await readFile(join(dir, 'out'), 'utf8'), `$HOME; touch pwned|*|hello|${dir}|argv|`);
  await t.rejects(readFile(join(dir, 'pwned')), 'nothing the words say was run');
});

t.test('a failure says what an SRE needs: the exit code and the last stderr line, a program that cannot start, a signal', async (t) => {
  const r = await runRecorded(
    planFrom(`${HEADER}tasks:
  - { name: code, onFailure: continue, exec: { command: /bin/sh, args: [-c, "echo first >&2; echo 'the last line' >&2; exit 5"] } }
  - { name: missing, onFailure: continue, exec: { command: /nonexistent/tool } }
  - { name: killed, onFailure: continue, exec: { command: /bin/sh, args: [-c, "kill -KILL $$"] } }
`),
  );
  t.equal(r.outcome.exitCode, 0);
  t.match(r.state.tasks[0], { status: 'continued', exitCode: 5, error: '/bin/sh exited with code 5: the last line' });
  t.match(r.state.tasks[1], { status: 'continued', error: /^cannot start \/nonexistent\/tool: ENOENT/ });
  t.match(r.state.tasks[2], { status: 'continued', error: '/bin/sh was killed by SIGKILL' });
});

t.test('tag form: `exec PATH ARG…`, both ways; refused from tags by the default policy', async (t) => {
  t.same(execKind.tagForm?.parse(['/usr/bin/dnf', 'install', '-y', 'x']), { spec: { command: '/usr/bin/dnf', args: ['install', '-y', 'x'] } });
  t.same(execKind.tagForm?.parse([]), { reason: 'exec needs a program: "exec PATH ARG…"' });
  t.same(taskFromTagValue('t', "exec /bin/echo 'a b' c"), { name: 't', exec: { command: '/bin/echo', args: ['a b', 'c'] } });
  t.same(tagValueFromSpec('exec', { command: '/bin/echo', args: ['a b', 'c'] }), { value: "exec /bin/echo 'a b' c", dropped: [] });
  t.same(tagValueFromSpec('exec', { command: '/bin/true' }), { value: 'exec /bin/true', dropped: [] });
  t.equal(execKind.tagsByDefault, false);
  t.notOk(defaultConfig().policy.tags.allow.includes('exec'), 'the default policy.tags.allow leaves exec out');
  t.ok(defaultConfig().policy.file.allow.includes('exec'), 'task files and user data may use it');
});
