// `postjoin run` (the real bundle) on a Karpenter node that Karpenter registers only after the tasks are done:
// the journal says, at info level, that True waits for the registration; True comes after it; the exit code is
// the run's. The stand-in's Karpenter model is test/emulators/kube-karpenter.ts.
import t from 'tap';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { karpenterKubelet, UNREGISTERED, type NodeClaim } from '../emulators/kube-karpenter.js';
import { taskList } from '../helpers/cli.js';
import { handoffNode, journal, oursOn, requestsOf, STARTUP_TAINT, warnings } from '../helpers/handoff-node.js';

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());

t.test('a Karpenter node registered after the tasks: the run waits for it (visibly), then reports True', async (t) => {
  const h = await handoffNode(t, api, { register: false });
  const claim: NodeClaim = { name: 'default-abcde', nodePool: 'default', startupTaints: [STARTUP_TAINT] };
  api.addNode(h.node, karpenterKubelet(claim, { registerWithTaints: [UNREGISTERED] }));
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  let done = false;
  const running = h.run().finally(() => (done = true));
  // The final report's first read (after Running's) sees the Node unregistered; Karpenter catches up after it.
  const reads = () => requestsOf(api, h.node).filter((q) => q.method === 'GET').length;
  while (!done && reads() < 3) await new Promise((r) => setTimeout(r, 25));
  t.same(oursOn(api, h.node).map((c) => c.reason), ['Running'], 'only Running so far');
  api.karpenterRegister(h.node, claim);
  const r = await running;
  t.equal(r.code, 0, r.stdout.slice(-2000));
  t.match(oursOn(api, h.node), [{ status: 'True', reason: 'Succeeded' }]);
  t.same(api.node(h.node).spec.taints, [STARTUP_TAINT], 'the startup taint is on the Node, for the controller');
  const lines = journal(r).map((l) => [l.level, String(l.msg)]);
  const at = (re: RegExp) => lines.findIndex(([, m]) => re.test(m as string));
  t.same(lines[at(/^waiting for Karpenter/)], ['info', `waiting for Karpenter to register Node ${h.node} before reporting True (the startup taint must be on first)`]);
  t.ok(at(/^run succeeded/) < at(/^waiting for Karpenter/), 'after the run summary');
  t.ok(at(/^Karpenter registered Node/) < at(/^reported postjoin\.io\/Ready=True\/Succeeded/), 'True after the registration');
  t.same(warnings(r), []);
});
