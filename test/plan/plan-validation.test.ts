import t from 'tap';
import { isGroup } from '../../src/plan/task.js';
import { kindNames } from '../../src/kinds/registry.js';
import { HEADER, config, planFrom, planProblems } from '../helpers/plan.js';

const KINDS = [...kindNames(), 'parallel'].join(', ');

const problems = planProblems;

const F = 'file:/etc/postjoin/tasks.d/10-x.yaml';

t.test('a valid plan keeps order and applies defaults', async (t) => {
  const plan = planFrom(`${HEADER}tasks:
  - name: a
    exec: { command: /bin/true }
  - name: b
    script: echo hi
    timeout: 30s
    retries: 2
    onFailure: continue
    once: false
    env: { A: "1" }
    cwd: /tmp
`);
  t.equal(plan.steps.length, 2);
  const [a, b] = plan.steps;
  if (!a || !b || isGroup(a) || isGroup(b)) throw new Error('expected simple tasks');
  t.match(a, { name: 'a', kind: 'exec', origin: `${F}#tasks[0]`, timeoutMs: 600_000, retries: 0, retryDelayMs: 1000, onFailure: 'abort', once: true });
  t.same(a.spec, { command: '/bin/true', args: [] });
  t.match(b, { name: 'b', kind: 'script', timeoutMs: 30_000, retries: 2, onFailure: 'continue', once: false, env: { A: '1' }, cwd: '/tmp' });
});

t.test('malformed YAML names the file and the line', async (t) => {
  const msgs = problems(`${HEADER}tasks:\n  - name: a\n    exec: { command: /bin/true\n`);
  t.ok(msgs.length >= 1);
  t.match(msgs[0], /^file:\/etc\/postjoin\/tasks.d\/10-x.yaml: line \d+: malformed YAML/);
});

t.test('two kind keys in one task', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    exec: { command: /bin/true }\n    script: echo\n`), [
    `${F}: tasks[0], line 4: has 2 kinds (exec, script); a task has exactly one`,
  ]);
});

t.test('an unknown kind', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    dnf: { install: [x] }\n`), [
    `${F}: tasks[0].dnf, line 5: unknown kind or field "dnf"; kinds are ${KINDS}; fields are name, timeout, retries, retryDelay, onFailure, once, env, cwd`,
  ]);
});

t.test('a task with no kind', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    timeout: 5m\n`), [`${F}: tasks[0], line 4: has no kind; a task needs exactly one of ${KINDS}`]);
});

t.test('a duplicate name names both origins', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    exec: { command: /bin/true }\n  - name: a\n    script: echo\n`), [
    `${F}#tasks[1]: task name "a" is already used by ${F}#tasks[0]; names are unique across the plan`,
  ]);
});

t.test('duplicate names inside parallel groups count too', async (t) => {
  const msgs = problems(`${HEADER}tasks:
  - name: a
    exec: { command: /bin/true }
  - name: g
    parallel:
      tasks:
        - { name: a, script: "echo" }
`);
  t.match(msgs, [/#tasks\[1\]\.parallel\.tasks\[0\]: task name "a" is already used by .*#tasks\[0\]/]);
});

t.test('every problem in the plan is reported, not just the first', async (t) => {
  const msgs = problems(`${HEADER}tasks:
  - name: "-bad"
    exec: { command: /bin/true }
  - name: ok
    exec: { command: "" }
  - name: t
    script: echo
    timeout: 30
    retries: -1
    onFailure: ignore
    surprise: 1
`);
  t.equal(msgs.length, 6, msgs.join('\n'));
  t.match(msgs.join('\n'), /tasks\[0\]\.name.*a task name is 1-63 characters/);
  t.match(msgs.join('\n'), /tasks\[1\]\.exec\.command.*must not be empty/);
  t.match(msgs.join('\n'), /tasks\[2\]\.timeout.*bare number 30/);
  t.match(msgs.join('\n'), /tasks\[2\]\.retries/);
  t.match(msgs.join('\n'), /tasks\[2\]\.onFailure.*expected one of "abort", "continue"/);
  t.match(msgs.join('\n'), /tasks\[2\]\.surprise.*unknown kind or field "surprise"/);
});

t.test('the envelope is required', async (t) => {
  t.same(problems('tasks: []\n'), [
    `${F}: apiVersion: required key "apiVersion" is missing (expected "postjoin/v1alpha1")`,
    `${F}: kind: required key "kind" is missing (expected "TaskList")`,
  ]);
  t.match(problems('apiVersion: postjoin/v1\nkind: TaskList\ntasks: []\nextra: 1\n'), [/expected apiVersion "postjoin\/v1alpha1", got "postjoin\/v1"/, /unknown key "extra"/]);
  t.match(problems(`${HEADER}tasks: {}\n`), [/expected tasks to be a list/]);
  t.match(problems(`- a\n- b\n`), [/expected a task document/]);
});

t.test('parallel groups: one level deep, members are ordinary tasks, group fields limited', async (t) => {
  const plan = planFrom(`${HEADER}tasks:
  - name: warm
    parallel:
      concurrency: 3
      tasks:
        - { name: m1, script: "echo 1", timeout: 1m }
        - { name: m2, exec: { command: /bin/true }, onFailure: continue }
`);
  const g = plan.steps[0];
  if (!g || !isGroup(g)) throw new Error('expected a group');
  t.equal(g.concurrency, 3);
  t.same(g.tasks.map((m) => [m.name, m.group, m.origin]), [
    ['m1', 'warm', `${F}#tasks[0].parallel.tasks[0]`],
    ['m2', 'warm', `${F}#tasks[0].parallel.tasks[1]`],
  ]);
  t.match(problems(`${HEADER}tasks:
  - name: outer
    timeout: 5m
    parallel:
      tasks:
        - name: inner
          parallel: { tasks: [{ name: x, script: echo }] }
`), [/tasks\[0\]\.timeout.*"timeout" does not apply to a parallel group; set it on each member/, /tasks\[0\]\.parallel\.tasks\[0\]\.parallel.*cannot hold another group/]);
  t.match(problems(`${HEADER}tasks:\n  - name: g\n    parallel: { tasks: [] }\n`), [/a parallel group needs at least one task/]);
});

t.test('policy: a kind the source may not use is refused, naming source, task and rule', async (t) => {
  const cfg = config({ policy: { file: { allow: ['file'] } } });
  t.same(problems(`${HEADER}tasks:\n  - name: x\n    exec: { command: /bin/true }\n  - name: g\n    parallel: { tasks: [{ name: y, script: echo }] }\n`, cfg), [
    `${F}#tasks[0]: task "x": kind "exec" is not allowed from source "file" (policy.file.allow: [file])`,
    `${F}#tasks[1].parallel.tasks[0]: task "y": kind "script" is not allowed from source "file" (policy.file.allow: [file])`,
  ]);
});

t.test('content hash: covers kind, spec, env and cwd; not name, timeout, retries or onFailure', async (t) => {
  const hashOf = (task: string) => {
    const s = planFrom(`${HEADER}tasks:\n${task}`).steps[0];
    if (!s || isGroup(s)) throw new Error('expected a task');
    return s.hash;
  };
  const base = hashOf('  - { name: a, exec: { command: /bin/echo, args: [x] } }\n');
  t.match(base, /^sha256:[0-9a-f]{64}$/);
  t.equal(hashOf('  - { name: b, timeout: 1m, retries: 3, onFailure: continue, exec: { args: [x], command: /bin/echo } }\n'), base, 'cosmetic fields and key order do not matter');
  t.equal(hashOf('  - { name: a, exec: { command: /bin/echo, args: [x] }, once: false }\n'), base);
  t.not(hashOf('  - { name: a, exec: { command: /bin/echo, args: [y] } }\n'), base, 'spec');
  t.not(hashOf('  - { name: a, exec: { command: /bin/echo, args: [x] }, env: { A: "1" } }\n'), base, 'env');
  t.not(hashOf('  - { name: a, exec: { command: /bin/echo, args: [x] }, cwd: /tmp }\n'), base, 'cwd');
});

t.test('an unknown YAML tag, and every other YAML warning, is an error with its line', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    script: !foo "echo hi"\n  - { name: b, exec: { command: /bin/true, args: [!!foo x] } }\n`), [
    `${F}: line 5: unknown YAML tag !foo; postjoin reads plain YAML 1.2 (its tags are !!str, !!int, !!bool, !!float, !!null, !!seq and !!map)`,
    `${F}: line 6: unknown YAML tag !!foo; postjoin reads plain YAML 1.2 (its tags are !!str, !!int, !!bool, !!float, !!null, !!seq and !!map)`,
  ]);
  t.same(problems(`%YAML 1.3\n---\n${HEADER}tasks: []\n`), [`${F}: line 1: YAML warning, refused: Unsupported YAML version 1.3`]);
  t.same(problems(`%FOO bar\n---\n${HEADER}tasks: []\n`), [`${F}: line 1: YAML warning, refused: Unknown directive %FOO`]);
});

t.test('a zero timeout and a NUL in an argument are refused at plan time', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - { name: a, timeout: 0s, script: "true" }\n  - { name: b, exec: { command: /bin/echo, args: ["a\\0b"] } }\n`), [
    `${F}: tasks[0].timeout, line 4: a timeout of 0 would stop the task before it starts; give a duration such as "30s"`,
    `${F}: tasks[1].exec.args[0], line 5: an argument cannot contain a NUL character`,
  ]);
});
