// Issue 20, item 4, through the bundle: `validate` checks instance tags written down as a node would read them.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { runCli, taskList, workspace } from '../helpers/cli.js';

t.test('what `tags --output json` and `tags` print validates as instance tags, and says what it took the file for', async (t) => {
  const ws = await workspace();
  const tasks = await ws.task('tasks.yaml', taskList('  - { name: prepull, pull: { images: [public.ecr.aws/eks-distro/kubernetes/pause:3.9] } }\n  - { name: ready, wait: { url: "http://127.0.0.1:4317/" } }\n'));
  const json = await runCli(['tags', '--tasks', tasks, '--output', 'json']);
  const text = await runCli(['tags', '--tasks', tasks]);
  t.equal(json.code, 0, json.stderr);
  const asJson = join(ws.dir, 'tags.json');
  const asLines = join(ws.dir, 'tags.txt');
  await writeFile(asJson, json.stdout);
  await writeFile(asLines, text.stdout);
  const r = await runCli(['validate', asJson, asLines]);
  t.equal(r.code, 2, 'the two files hold the same task names: one plan, as for task files');
  t.match(r.stdout, `ok       ${asJson} (2 tasks, instance tags as a [{"Key","Value"}] list)\n`);
  t.match(r.stdout, `invalid  ${asLines} (2 tasks, instance tags as KEY=VALUE lines)`);
  const one = await runCli(['validate', asJson]);
  t.equal(one.code, 0, one.stdout);
  t.equal(one.stdout, `ok       ${asJson} (2 tasks, instance tags as a [{"Key","Value"}] list)\nvalid: 2 task(s) in 1 file(s)\n`);
  const lines = await runCli(['validate', asLines]);
  t.equal(lines.code, 0, lines.stdout);
});

const HAND_WRITTEN = `[
  {"Key": "Name", "Value": "eks-node"},
  {"Key": "postjoin:10-prepull", "Value": "pull public.ecr.aws/eks-distro/kubernetes/pause:3.9"},
  {"Key": "postjoin:20-agent", "Value": "unit restart amazon-cloudwatch-agent.service"},
  {"Key": "postjoin:30-hello", "Value": "exec /bin/echo $HOME"},
  {"Key": "postjoin:40 bad", "Value": "pull x/y:1"},
  {"Key": "postjoin:50-quote", "Value": "pull \\"x/y:1"},
  {"Key": "postjoin:60-typo", "Value": "pul x/y:1"},
  {"Key": "kubernetes.io/cluster/demo", "Value": "owned"}
]
`;

t.test('hand-written tags: every problem, each with its tag and line, checked with the default policy', async (t) => {
  const ws = await workspace();
  const f = join(ws.dir, 'tags.json');
  await writeFile(f, HAND_WRITTEN);
  const r = await runCli(['validate', f]);
  t.equal(r.code, 2);
  t.equal(
    r.stdout,
    [
      `invalid  ${f} (3 tasks, instance tags as a [{"Key","Value"}] list; 2 other tags ignored)`,
      `tags:${f}: line 6: tag key "postjoin:40 bad": "40 bad" is not a task name (1-63 letters, digits, ".", "_" and "-", starting with a letter or digit)`,
      `tags:${f}#postjoin:50-quote: line 7: unterminated double quote at character 6`,
      `tags:${f}#postjoin:60-typo: line 8: unknown kind "pul"; a tag value starts with one of pull, unit, wait, exec, script; did you mean "pull"?`,
      `tags:${f}#postjoin:20-agent: task "20-agent": unit "amazon-cloudwatch-agent.service": a unit task from instance tags is refused while policy.units is empty; list the units tags may drive in policy.units`,
      `tags:${f}#postjoin:30-hello: task "30-hello": kind "exec" is not allowed from source "tags" (policy.tags.allow: [pull, unit, wait])`,
      `warning: tags:${f}#kubernetes.io/cluster/demo: line 9: instance metadata cannot show this key (it allows only letters, digits and + = . _ : @ -): with InstanceMetadataTags enabled EC2 refuses to launch; with it off (as Karpenter launches), the node reads its tags with DescribeInstances`,
      `warning: tags:${f}#postjoin:30-hello: exec.args[0], line 5: task "30-hello": exec passes "$HOME" literally (no shell expands it); use a script task, or set the value in env`,
      '5 problem(s) found; 2 warning(s)',
      '',
    ].join('\n'),
  );
});

t.test('with --config, that config\'s policy for tags applies instead', async (t) => {
  const ws = await workspace('policy:\n  tags: { allow: [pull, unit, wait, exec] }\n  units: [amazon-cloudwatch-agent.service]\n');
  const f = join(ws.dir, 'tags.json');
  await writeFile(f, HAND_WRITTEN);
  const r = await runCli(['validate', '--config', ws.configPath, f]);
  t.equal(r.code, 2);
  t.notMatch(r.stdout, /policy\./, 'no policy denial left');
  t.match(r.stdout, /3 problem\(s\) found; 2 warning\(s\)\n$/);
});

t.test('a plain mapping, and --output json says what the file was taken for, as pure JSON', async (t) => {
  const ws = await workspace();
  const f = join(ws.dir, 'tags.json');
  await writeFile(f, '{\n  "Name": "eks-node",\n  "aws:autoscaling:groupName": "ng-1",\n  "postjoin:10-prepull": "pull public.ecr.aws/eks-distro/kubernetes/pause:3.9",\n  "postjoin:20-ready": "wait file /run/ready"\n}\n');
  const r = await runCli(['validate', '--output', 'json', f]);
  t.equal(r.code, 0, r.stdout);
  t.same(JSON.parse(r.stdout), {
    valid: true,
    tasks: 2,
    files: [{ path: f, type: 'tags', form: 'mapping', ignoredTags: 2, tasks: 2, valid: true }],
    problems: [],
    warnings: [],
  });
});

t.test('postjoin:enabled=false: said, and the tags are still checked', async (t) => {
  const ws = await workspace();
  const f = join(ws.dir, 'tags.txt');
  await writeFile(f, 'postjoin:enabled=false\npostjoin:10-x=exec /bin/true\n');
  const r = await runCli(['validate', f]);
  t.equal(r.code, 2);
  t.match(r.stdout, `warning: tags:${f}#postjoin:enabled: line 1: the node reads no postjoin tag while this is false; the others are checked all the same\n`);
  t.match(r.stdout, `tags:${f}#postjoin:10-x: task "10-x": kind "exec" is not allowed from source "tags"`);
});

t.test('validate --help says what files it takes, and how tags are checked', async (t) => {
  const r = await runCli(['validate', '--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, 'or instance tags: the [{"Key","Value"}] list `tags --output json` prints, a {"key": "value"}');
  t.match(r.stdout, 'the default policy for tags (pull, unit, wait; no unit');
  t.match(r.stdout, 'Warnings (an exec');
});
