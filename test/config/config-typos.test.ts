// Issue 20, item 5: the agent config names a misspelled key or value with the one it most likely meant, in every block.
import t from 'tap';
import { problemsOf } from '../helpers/config-file.js';

t.test('a misspelled key in every block of the config names the key it meant', async (t) => {
  const cases: [string, string, string][] = [
    ['sorces: [file]\n', 'sorces', 'sources'],
    ['taskDir: /x\n', 'taskDir', 'tasksDir'],
    ['imds: { enabeld: false }\nsources: [file]\n', 'imds.enabeld', 'enabled'],
    ['containerd: { sokcet: /run/x.sock }\n', 'containerd.sokcet', 'socket'],
    ['readiness:\n  timeout: 5m\n  kubeletHealth: null\n', 'readiness.kubeletHealth', 'kubeletHealthz'],
    ['policy:\n  tags: { alow: [exec] }\n', 'policy.tags.alow', 'allow'],
    ['policy: { registires: ["*.ecr"] }\n', 'policy.registires', 'registries'],
    ['kubernetes: { lable: null }\n', 'kubernetes.lable', 'label'],
    ['runTimeOut: 5m\n', 'runTimeOut', 'runTimeout'],
    ['apiVerison: postjoin/v1alpha1\n', 'apiVerison', 'apiVersion'],
  ];
  for (const [text, at, want] of cases) {
    const got = await problemsOf(text);
    t.equal(got.length, 1, `${at}: ${got.join(' | ')}`);
    t.match(got[0], new RegExp(`^config CONFIG: ${at.replace('.', '\\.')}, line \\d+: unknown key "${at.split('.').pop()}"; did you mean "${want}"\\?$`), at);
  }
});

t.test('the line is the misspelled key\'s own', async (t) => {
  t.same(await problemsOf('readiness:\n  timeout: 5m\n  kubeletHealth: null\npolicy:\n  tags:\n    alow: [exec]\n'), [
    'config CONFIG: readiness.kubeletHealth, line 3: unknown key "kubeletHealth"; did you mean "kubeletHealthz"?',
    'config CONFIG: policy.tags.alow, line 6: unknown key "alow"; did you mean "allow"?',
  ]);
});

t.test('misspelled values: a source, a task kind in an allow-list', async (t) => {
  t.same(await problemsOf('sources: [file, tag]\n'), ['config CONFIG: sources[1], line 1: expected one of "file", "userdata", "tags"; did you mean "tags"?']);
  t.same(await problemsOf('policy: { tags: { allow: [pull, wiat] } }\n'), [
    'config CONFIG: policy.tags.allow[1], line 1: unknown task kind "wiat"; kinds are exec, script, file, pull, unit, wait; did you mean "wait"?',
  ]);
  t.same(await problemsOf('sources: [file, s3]\n'), ['config CONFIG: sources[1], line 1: expected one of "file", "userdata", "tags"'], 'no guess when nothing is near');
});

t.test('a key nothing is near is named alone', async (t) => {
  t.same(await problemsOf('bogus: 1\n'), ['config CONFIG: bogus, line 1: unknown key "bogus"']);
});
