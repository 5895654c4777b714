import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildPlan } from '../../src/plan/build-plan.js';
import { tasksFromText } from '../../src/plan/task-document.js';
import { compileTags } from '../../src/writers/tag-compile.js';
import { kindNamed } from '../../src/kinds/registry.js';
import { everyKindPolicy } from '../../src/config/agent-config.js';
import { runCli } from '../helpers/cli.js';
import { HEADER } from '../helpers/plan.js';

async function taskFile(tasks: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-tags-'));
  const path = join(dir, 'tasks.yaml');
  await writeFile(path, `${HEADER}tasks:\n${tasks}`);
  return path;
}

/** compileTags on a task list, in-process (the CLI runs below cover the verb itself). */
function compile(tasks: string) {
  const sourced = tasksFromText(`${HEADER}tasks:\n${tasks}`, 'yaml', 'file:/t.yaml', 'file');
  return compileTags(sourced, buildPlan(sourced, everyKindPolicy()), 'file:/t.yaml');
}
const problems = (tasks: string) => compile(tasks).problems.map((p) => `${p.source}: ${p.message}`);

t.test('tags: KEY=VALUE lines, zero-padded order prefixes, names with a numeric prefix kept', async (t) => {
  const path = await taskFile(`  - { name: hello, exec: { command: /bin/echo, args: ["it's", "a b", "$HOME;*"] } }
  - { name: tune, script: "sysctl -w vm.max_map_count=262144\\n" }
  - { name: 99-last, exec: { command: /bin/true } }
`);
  const r = await runCli(['tags', '--tasks', path]);
  t.equal(r.code, 0, r.stderr);
  t.equal(
    r.stdout,
    [
      `postjoin:010-hello=exec /bin/echo 'it'\\''s' 'a b' $HOME;*`,
      `postjoin:020-tune=script ${Buffer.from('sysctl -w vm.max_map_count=262144\n').toString('base64')}`,
      'postjoin:99-last=exec /bin/true',
      '',
    ].join('\n'),
  );
  t.match(r.stderr, /3 postjoin tag\(s\): 3 of EC2's 50 per instance; the instance's own tags/);
  // The verb cannot see the instance's other tags, so it says when a node can find these in metadata, and what
  // the other way costs: on EKS that is most nodes (Karpenter's, and any whose tag keys hold a "/").
  const notes = r.stderr.split('\n').filter((l) => /instance metadata|DescribeInstances/.test(l));
  t.same(notes, [
    'postjoin tags: note: a node reads these from instance metadata only if its launch template allows tags in metadata; ' +
      'EC2 refuses that when any tag key of the instance holds "/" or a space (kubernetes.io/cluster/…, karpenter.sh/nodepool, ' +
      'k8s.io/cluster-autoscaler/…), and Karpenter never allows it',
    'postjoin tags: note: otherwise each node calls EC2 DescribeInstances at boot, from the per-Region request limit of the account ' +
      'that Karpenter and the VPC CNI call too (2,000 boots in a minute: about 4.6 calls per node, the last tasks up to 75 s late; ' +
      'docs/performance.md, P6); on Karpenter, or for fleets that boot by the thousand, give the tasks as user data (postjoin render-userdata)',
  ]);
  const json = await runCli(['tags', '--tasks', path, '--output', 'json']);
  t.notMatch(json.stdout, /note/, 'stdout stays the tags alone');
  t.same(JSON.parse(json.stdout)[2], { Key: 'postjoin:99-last', Value: 'exec /bin/true' });
});

t.test('what the grammar cannot express is refused, every task listed, and nothing printed', async (t) => {
  const path = await taskFile(`  - { name: a, file: { path: /etc/x, content: x } }
  - { name: b, parallel: { tasks: [ { name: b1, exec: { command: /bin/true } } ] } }
  - { name: c, exec: { command: /bin/true }, timeout: 5m, env: { A: "1" } }
  - { name: d, exec: { command: /bin/true }, once: true, timeout: 10m }
  - { name: e, script: "${'x'.repeat(200)}" }
`);
  const r = await runCli(['tags', '--tasks', path]);
  t.equal(r.code, 2);
  t.equal(r.stdout, '');
  t.match(r.stderr, /#tasks\[0\]: task "a": kind "file" has no tag form; tags can hold pull, unit, wait, exec, script/);
  t.match(r.stderr, /#tasks\[1\]: task "b": a parallel group cannot be written as tags/);
  t.match(r.stderr, /#tasks\[2\]: task "c": timeout, env cannot be written in a tag \(a tag task always has the defaults\)/);
  t.notMatch(r.stderr, /task "d"/, 'explicit defaults are fine');
  t.match(r.stderr, /#tasks\[4\]: task "e": its tag value is 275 characters; EC2 allows at most 256/);
});

t.test('the file order must survive the byte-wise key order', async (t) => {
  t.same(problems('  - { name: 5-first, exec: { command: /bin/true } }\n  - { name: second, exec: { command: /bin/true } }\n'), [
    'file:/t.yaml: on the node these tags run in the byte-wise order of their keys (postjoin:020-second, postjoin:5-first), which is not the file\'s order; number every task ("10-x", "20-y") or none',
  ]);
  t.same(problems('  - { name: 10-a, exec: { command: /bin/true } }\n  - { name: 20-b, exec: { command: /bin/true } }\n'), []);
});

t.test('limits: 50 tags per instance, names that the prefix makes too long', async (t) => {
  const many = Array.from({ length: 51 }, (_, i) => `  - { name: t${i}, exec: { command: /bin/true } }\n`).join('');
  t.match(problems(many), [/51 tasks need 51 tags; EC2 allows 50 per instance/]);
  t.same(compile(many.split('\n').slice(0, 12).join('\n')).tags.map((x) => x.Key).slice(-1), ['postjoin:120-t11'], 'width 3 below 100');
  const long = `n${'x'.repeat(61)}`;
  t.match(problems(`  - { name: ${long}, exec: { command: /bin/true } }\n`), [/with its order prefix the name "010-nx+" breaks the task-name rule/]);
});

t.test('--other-tags: the instance\'s own tags count against the limit, as a warning', async (t) => {
  const path = await taskFile('  - { name: a, exec: { command: /bin/true } }\n');
  const r = await runCli(['tags', '--tasks', path, '--other-tags', '50']);
  t.equal(r.code, 0);
  t.match(r.stderr, /warning: 1 postjoin tag\(s\) and 50 other tag\(s\): 51 of EC2's 50 per instance; the instance cannot carry them all/);
  const bad = await runCli(['tags', '--tasks', path, '--other-tags', 'many']);
  t.equal(bad.code, 2);
  const none = await runCli(['tags']);
  t.equal(none.code, 2);
  t.match(none.stderr, /--tasks FILE is required/);
});

t.test('pull, unit and wait compile too (each runs once its kind is registered)', async (t) => {
  const cases: [string, string, string][] = [
    ['pull', '{ name: prepull, pull: { images: [public.ecr.aws/eks-distro/kubernetes/pause:3.9], concurrency: 4 } }', 'pull public.ecr.aws/eks-distro/kubernetes/pause:3.9'],
    ['unit', '{ name: agent, unit: { name: amazon-cloudwatch-agent.service, action: restart } }', 'unit restart amazon-cloudwatch-agent.service'],
    ['wait', '{ name: ready, wait: { url: "http://127.0.0.1:4317/" } }', 'wait url http://127.0.0.1:4317/'],
  ];
  for (const [kind, task, value] of cases) {
    if (!kindNamed(kind)) {
      t.comment(`SKIP ${kind}: not registered in src/kinds/registry.ts yet`);
      continue;
    }
    const out = compile(`  - ${task}\n`);
    t.same(out.problems, [], kind);
    t.same(out.tags.map((x) => x.Value), [value], kind);
  }
  if (kindNamed('pull')) {
    t.match(problems('  - { name: p, pull: { images: [a.io/x:1], concurrency: 2 } }\n'), [/task "p": pull.concurrency cannot be written in a tag/]);
  }
});

t.test('tags warns about what the node\'s default policy will refuse: exec and script tags, unit tags without policy.units', async (t) => {
  const path = await taskFile(`  - { name: 10-agent, unit: { name: amazon-cloudwatch-agent.service, action: restart } }
  - { name: 20-hello, exec: { command: /bin/echo } }
  - { name: 30-warm, pull: { images: [public.ecr.aws/eks-distro/kubernetes/pause:3.9] } }
`);
  const r = await runCli(['tags', '--tasks', path]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /postjoin tags: note: postjoin:10-agent is a unit task: the node runs it only where its policy\.units names amazon-cloudwatch-agent\.service \(empty policy\.units refuses every unit task from tags\)/);
  t.match(r.stderr, /postjoin tags: note: postjoin:20-hello is an exec task, which the default policy refuses from tags: the node's policy\.tags\.allow must list exec/);
  t.notMatch(r.stderr, /30-warm/, 'a pull tag needs nothing more');
});
