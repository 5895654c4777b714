// Whoever can tag an instance must not be able to stop kubelet.service: a `unit` task from the tags source is
// refused at plan time (exit 2, naming policy.units) unless policy.units is non-empty and matches it. `wait:
// {unit}` from tags stays allowed (an empty policy.units lets it wait on any unit), and task files and user data
// keep today's rule (empty = any unit).
import t from 'tap';
import { InvalidInput } from '../../src/base/errors.js';
import { buildPlan } from '../../src/plan/build-plan.js';
import { tasksFromText } from '../../src/plan/task-document.js';
import { startImdsServer } from '../emulators/imds-server.js';
import { standinFor } from '../emulators/systemd1-standin.js';
import { logLines } from '../helpers/cli.js';
import { fakeNode } from '../helpers/fake-node.js';
import { HEADER, config } from '../helpers/plan.js';

/** The plan's problems for one task from `source`, as the user reads them; [] when it is allowed. */
function problemsFor(source: 'tags' | 'file' | 'userdata', task: string, units: string[]): string[] {
  const origin = source === 'tags' ? 'tag:postjoin:10-x' : source === 'file' ? 'file:/etc/postjoin/tasks.d/10.yaml' : 'userdata:part[0]';
  try {
    buildPlan(tasksFromText(`${HEADER}tasks:\n  - ${task}\n`, 'yaml', origin, source), config({ policy: { units } }).policy);
    return [];
  } catch (err) {
    if (err instanceof InvalidInput) return err.problems.map((p) => p.message);
    throw err;
  }
}

const STOP_KUBELET = '{ name: x, unit: { name: kubelet.service, action: stop } }';

t.test('plan: a unit task from tags needs a non-empty policy.units that matches it; files and user data keep "empty = any"', async (t) => {
  t.same(problemsFor('tags', STOP_KUBELET, []), [
    'task "x": unit "kubelet.service": a unit task from instance tags is refused while policy.units is empty; list the units tags may drive in policy.units',
  ]);
  t.same(problemsFor('tags', STOP_KUBELET, ['amazon-*.service']), ['task "x": unit "kubelet.service" is not allowed by policy.units [amazon-*.service]']);
  t.same(problemsFor('tags', '{ name: x, unit: { name: amazon-cloudwatch-agent.service, action: restart } }', ['amazon-*.service']), [], 'a matching glob allows it');
  t.same(problemsFor('tags', '{ name: x, wait: { unit: kubelet.service } }', []), [], 'wait: {unit} from tags with an empty policy.units: any unit');
  t.same(problemsFor('tags', '{ name: x, wait: { unit: kubelet.service } }', ['amazon-*.service']), ['task "x": unit "kubelet.service" is not allowed by policy.units [amazon-*.service]'], '…and a non-empty one applies');
  t.same(problemsFor('file', STOP_KUBELET, []), [], 'a task file: any unit while policy.units is empty');
  t.same(problemsFor('userdata', STOP_KUBELET, []), [], 'user data: the same');
});

t.test('through the bundle, tags from IMDS: `unit stop kubelet.service` is exit 2 naming policy.units and nothing runs; with policy.units matching, the unit task runs', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('kubelet.service', { activeState: 'active', subState: 'running' });
  s.unit('amazon-cloudwatch-agent.service', { activeState: 'active', subState: 'running' });
  // A tag task's timeout is always 10m; a wait that cannot end must fail this test, not hang it.
  const cli = (node: Awaited<ReturnType<typeof fakeNode>>) => node.cli(['run'], { env: s.env, timeoutMs: 20_000 });
  const imds = await startImdsServer({ tags: { 'postjoin:10-stop': 'unit stop kubelet.service', 'postjoin:20-wait': 'wait unit kubelet.service' } });
  t.teardown(imds.close);

  const open = await fakeNode({ imds: imds.url, config: 'sources: [tags]\n' });
  const refused = await cli(open);
  t.equal(refused.code, 2, refused.stdout.slice(-1500) + refused.stderr);
  const problems = logLines(refused.stdout).filter((l) => l.level === 'error' && l.problem).map((l) => l.problem);
  t.same(problems, [
    {
      source: 'tag:postjoin:10-stop',
      message: 'task "10-stop": unit "kubelet.service": a unit task from instance tags is refused while policy.units is empty; list the units tags may drive in policy.units',
    },
  ], 'one problem, naming the tag and policy.units; the wait tag is not refused');
  t.same(s.calls.filter((c) => /^(Start|Stop|Restart)Unit/.test(c)), [], 'systemd was asked for nothing');

  s.setState('kubelet.service', 'active'); // whatever the refused run did, the next run starts from a running kubelet
  imds.state.tags = { 'postjoin:10-restart': 'unit restart amazon-cloudwatch-agent.service', 'postjoin:20-wait': 'wait unit kubelet.service' };
  const narrowed = await fakeNode({ imds: imds.url, config: 'sources: [tags]\npolicy: { units: ["amazon-*.service", kubelet.service] }\n' });
  const ran = await cli(narrowed);
  t.equal(ran.code, 0, ran.stdout.slice(-1500) + ran.stderr);
  t.ok(s.calls.some((c) => c.startsWith('RestartUnit amazon-cloudwatch-agent.service')), 'the allowed unit was restarted over D-Bus');
  t.ok(logLines(ran.stdout).some((l) => l.task === '20-wait' && /^done waiting for kubelet\.service/.test(String(l.msg))), 'the wait ran too');

  imds.state.tags = { 'postjoin:20-wait': 'wait unit kubelet.service' };
  const waitOnly = await cli(open);
  t.equal(waitOnly.code, 0, `wait: {unit} from tags runs with an empty policy.units: ${waitOnly.stdout.slice(-1500)}`);
});
