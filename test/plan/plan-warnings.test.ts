// Issue 20, item 3: shell syntax in an exec task passes validation, with a warning naming the source, the task, the
// word and its line; the plan is the same as without the warning, and nothing is refused.
import t from 'tap';
import { formatProblem } from '../../src/base/errors.js';
import { buildPlan, checkPlan } from '../../src/plan/build-plan.js';
import { tasksFromText } from '../../src/plan/task-document.js';
import { tasksFromTags } from '../../src/sources/tag-grammar.js';
import { everyKindPolicy } from '../../src/config/agent-config.js';
import { HEADER, config } from '../helpers/plan.js';

const F = 'file:/etc/postjoin/tasks.d/10-x.yaml';
const sourced = (tasks: string) => tasksFromText(`${HEADER}tasks:\n${tasks}`, 'yaml', F, 'file');
const warnings = (tasks: string) => (buildPlan(sourced(tasks), config().policy).warnings ?? []).map(formatProblem);

t.test('$VAR in an exec argument is a warning with the source, the task, the argument and its line', async (t) => {
  t.same(warnings('  - name: label\n    exec:\n      command: /usr/bin/label-node\n      args: ["--name=$POSTJOIN_NODE_NAME"]\n'), [
    `${F}: tasks[0].exec.args[0], line 7: task "label": exec passes "$POSTJOIN_NODE_NAME" literally (no shell expands it); use a script task, or set the value in env`,
  ]);
  t.same(warnings('  - name: a\n    exec:\n      command: /bin/echo\n      args:\n        - plain\n        - "${HOME}/x"\n'), [
    `${F}: tasks[0].exec.args[1], line 9: task "a": exec passes "\${HOME}" literally (no shell expands it); use a script task, or set the value in env`,
  ]);
});

t.test('command substitution, backticks, a tilde, and the command itself', async (t) => {
  t.same(warnings('  - name: a\n    exec: { command: /bin/echo, args: ["$(hostname)", "`id -u`", "~/x"] }\n'), [
    `${F}: tasks[0].exec.args[0], line 5: task "a": exec passes "$(hostname)" literally (no shell runs it); use a script task`,
    `${F}: tasks[0].exec.args[1], line 5: task "a": exec passes "\`id -u\`" literally (no shell runs it); use a script task`,
    `${F}: tasks[0].exec.args[2], line 5: task "a": exec passes "~/x" literally (no shell expands "~" to a home directory); write the absolute path, or use a script task`,
  ]);
  t.same(warnings('  - name: a\n    exec: { command: "$HOME/bin/tool" }\n'), [
    `${F}: tasks[0].exec.command, line 5: task "a": exec passes "$HOME" literally (no shell expands it); use a script task, or set the value in env`,
  ]);
});

t.test('no warning for what is not shell syntax, or where a shell reads it', async (t) => {
  t.same(warnings('  - name: a\n    exec: { command: /bin/echo, args: ["costs $5", "^x$", "$"] }\n'), []);
  t.same(warnings('  - name: a\n    exec: { command: /bin/bash, args: ["-c", "echo $POSTJOIN_NODE_NAME"] }\n'), []);
  t.same(warnings('  - name: a\n    script: echo $POSTJOIN_NODE_NAME\n'), [], 'a script task runs in bash');
});

t.test('members of a parallel group are checked too', async (t) => {
  t.same(warnings('  - name: g\n    parallel:\n      tasks:\n        - { name: m, exec: { command: /bin/echo, args: [$HOME] } }\n'), [
    `${F}: tasks[0].parallel.tasks[0].exec.args[0], line 7: task "m": exec passes "$HOME" literally (no shell expands it); use a script task, or set the value in env`,
  ]);
});

t.test('a warning never makes a plan invalid, and comes beside the problems when there are some', async (t) => {
  const plan = buildPlan(sourced('  - name: a\n    exec: { command: /bin/echo, args: [$HOME] }\n'), config().policy);
  t.equal(plan.steps.length, 1);
  const checked = checkPlan(sourced('  - name: a\n    exec: { command: /bin/echo, args: [$HOME] }\n  - name: b\n    exec: { command: "" }\n'), config().policy);
  t.equal(checked.plan, undefined);
  t.equal(checked.problems.length, 1);
  t.equal(checked.warnings.length, 1);
  t.match(checked.warnings[0]!.message, /task "a": exec passes "\$HOME" literally/);
});

t.test('an instance tag "exec /bin/echo $HOME" is warned about as the node reads it', async (t) => {
  const outcome = tasksFromTags(new Map([['postjoin:10-x', 'exec /bin/echo $HOME']]));
  if (!outcome.enabled) throw new Error('enabled');
  const plan = buildPlan(outcome.tasks, everyKindPolicy());
  t.same((plan.warnings ?? []).map(formatProblem), [
    'tag:postjoin:10-x: exec.args[0]: task "10-x": exec passes "$HOME" literally (no shell expands it); use a script task, or set the value in env',
  ]);
});
