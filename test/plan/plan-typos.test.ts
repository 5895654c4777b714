// Issue 20, item 5: a misspelled key or value is named, with the key it most likely meant, once, on its own line.
import t from 'tap';
import { HEADER, planProblems } from '../helpers/plan.js';

const F = 'file:/etc/postjoin/tasks.d/10-x.yaml';
const problems = (tasks: string) => planProblems(`${HEADER}tasks:\n${tasks}`);

t.test('a misspelled common field names the field it meant, not the list of kinds', async (t) => {
  t.same(problems('  - name: a\n    exec: { command: /bin/true }\n    retires: 3\n'), [
    `${F}: tasks[0].retires, line 6: unknown key "retires"; did you mean "retries"?`,
  ]);
  t.same(problems('  - name: a\n    exec: { command: /bin/true }\n    OnFailure: continue\n'), [
    `${F}: tasks[0].OnFailure, line 6: unknown key "OnFailure"; did you mean "onFailure"?`,
  ]);
});

t.test('a misspelled kind names the kind, and "has no kind" is not said as well', async (t) => {
  t.same(problems('  - name: a\n    exce: { command: /bin/true }\n'), [`${F}: tasks[0].exce, line 5: unknown key "exce"; did you mean the kind "exec"?`]);
  t.same(problems('  - name: a\n    scirpt: echo hi\n'), [`${F}: tasks[0].scirpt, line 5: unknown key "scirpt"; did you mean the kind "script"?`]);
});

t.test('a misspelled field in a task with no kind: both mistakes are said', async (t) => {
  t.same(problems('  - name: a\n    timout: 5m\n'), [
    `${F}: tasks[0], line 4: has no kind; a task needs exactly one of exec, script, file, pull, unit, wait, parallel`,
    `${F}: tasks[0].timout, line 5: unknown key "timout"; did you mean "timeout"?`,
  ]);
});

t.test('a key nothing is near still lists what a task may hold', async (t) => {
  t.same(problems('  - name: a\n    dnf: { install: [x] }\n'), [
    `${F}: tasks[0].dnf, line 5: unknown kind or field "dnf"; kinds are exec, script, file, pull, unit, wait, parallel; fields are name, timeout, retries, retryDelay, onFailure, once, env, cwd`,
  ]);
});

t.test('a misspelled required key is one message, at the misspelled key\'s line, saying it is required', async (t) => {
  t.same(problems('  - name: b\n    pull:\n      concurrency: 2\n      image: [public.ecr.aws/x/y:1]\n'), [
    `${F}: tasks[0].pull.image, line 7: unknown key "image"; did you mean "images"? ("images" is required)`,
  ]);
  t.same(problems('  - name: b\n    pull: { image: [public.ecr.aws/x/y:1] }\n'), [
    `${F}: tasks[0].pull.image, line 5: unknown key "image"; did you mean "images"? ("images" is required)`,
  ]);
  t.same(problems('  - nmae: b\n    exec: { command: /bin/true }\n'), [`${F}: tasks[0].nmae, line 4: unknown key "nmae"; did you mean "name"? ("name" is required)`]);
  t.same(problems('  - name: b\n    exec:\n      comand: /bin/true\n      args: [x]\n'), [
    `${F}: tasks[0].exec.comand, line 6: unknown key "comand"; did you mean "command"? ("command" is required)`,
  ]);
});

t.test('a required key that is simply missing says so, at the line of the key that should hold it', async (t) => {
  t.same(problems('  - name: b\n    pull:\n      concurrency: 2\n'), [
    `${F}: tasks[0].pull.images, line 5: required key "images" is missing (expected a list of image references)`,
  ]);
  t.same(problems('  - exec: { command: /bin/true }\n'), [`${F}: tasks[0].name, line 4: required key "name" is missing (expected a task name string)`]);
});

t.test('every kind\'s spec suggests its own keys', async (t) => {
  const cases: [string, string, string][] = [
    ['exec: { command: /bin/true, ags: [x] }', 'exec.ags', 'args'],
    ['file: { path: /x, content: y, mdoe: "0644" }', 'file.mdoe', 'mode'],
    ['pull: { images: [a/b:1], concurency: 2 }', 'pull.concurency', 'concurrency'],
    ['unit: { name: x.service, actoin: start }', 'unit.actoin', 'action'],
    ['wait: { url: "http://127.0.0.1/", intervall: 1s }', 'wait.intervall', 'interval'],
    ['parallel: { tasks: [{ name: m, script: echo }], concurrenc: 2 }', 'parallel.concurrenc', 'concurrency'],
  ];
  for (const [spec, at, want] of cases) {
    const got = problems(`  - name: a\n    ${spec}\n`);
    t.equal(got.length, 1, `${spec}: ${got.join(' | ')}`);
    t.match(got[0], `${F}: tasks[0].${at}, line 5: unknown key`, spec);
    t.match(got[0], `; did you mean "${want}"?`, spec);
  }
});

t.test('a misspelled enum value names the value it meant', async (t) => {
  t.same(problems('  - name: a\n    exec: { command: /bin/true }\n    onFailure: abrot\n'), [
    `${F}: tasks[0].onFailure, line 6: expected one of "abort", "continue"; did you mean "abort"?`,
  ]);
  t.same(problems('  - name: a\n    unit: { name: x.service, action: restrat }\n'), [
    `${F}: tasks[0].unit.action, line 5: expected one of "start", "restart", "stop", "enable-now"; did you mean "restart"?`,
  ]);
  t.same(problems('  - name: a\n    unit: { name: x.service, action: reload }\n'), [
    `${F}: tasks[0].unit.action, line 5: expected one of "start", "restart", "stop", "enable-now"`,
  ], 'no guess when nothing is near');
});

t.test('the TaskList envelope: a misspelled apiVersion is one message with the key it meant', async (t) => {
  t.same(planProblems('apiVerison: postjoin/v1alpha1\nkind: TaskList\ntasks: []\n'), [
    `${F}: apiVerison, line 1: unknown key "apiVerison"; did you mean "apiVersion"? ("apiVersion" is required)`,
  ]);
  t.same(planProblems('apiVersion: postjoin/v1alpha1\nkind: TaskList\ntask:\n  - name: a\n    script: echo\n'), [
    `${F}: task, line 3: unknown key "task"; did you mean "tasks"? ("tasks" is required)`,
  ]);
});

t.test('a parallel group: a misspelled key is one message, not "unknown" and "does not apply" both', async (t) => {
  t.same(problems('  - name: g\n    onFialure: continue\n    parallel: { tasks: [{ name: m, script: echo }] }\n'), [
    `${F}: tasks[0].onFialure, line 5: unknown key "onFialure"; did you mean "onFailure"?`,
  ]);
  t.same(problems('  - name: g\n    parallel:\n      tasks:\n        - name: m\n          scirpt: echo\n'), [
    `${F}: tasks[0].parallel.tasks[0].scirpt, line 8: unknown key "scirpt"; did you mean the kind "script"?`,
  ]);
});
