// Karpenter's registration race (issue 17, item 5), against the stand-in's model of Karpenter
// (test/emulators/kube-karpenter.ts): a Karpenter node is reported True only once Karpenter's registration patch
// is on it (so the startup taint it merges in is there before the condition that removes it); a False report and a
// node Karpenter does not manage never wait; a wait that outlasts kubernetes.timeout writes nothing and says why.
import t from 'tap';
import type { KubernetesConfig } from '../../src/config/agent-config.js';
import { createHost } from '../../src/host/host.js';
import { startClusterReport } from '../../src/report/cluster-report.js';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { karpenterKubelet, type NodeClaim } from '../emulators/kube-karpenter.js';
import { memoryLogger } from '../helpers/memory-log.js';

const host = createHost();
const STARTUP = { key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' };

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());

let n = 0;
/** A Node registered by the kubelet from Karpenter's user data (or `plain`: not a Karpenter node), and its report. */
async function karpenterNode(o: { timeoutMs?: number; plain?: boolean; userData?: Parameters<typeof karpenterKubelet>[1] } = {}) {
  const node = `ip-10-0-8-${++n}.us-west-2.compute.internal`;
  // amiFamily Custom (or Karpenter before 1.5): the kubelet registers karpenter.sh/unregistered only, and the
  // registration patch brings the NodePool's startup taint.
  const claim: NodeClaim = { name: `default-${n}`, nodePool: 'default', labels: { 'postjoin.io/handoff': 'true' }, startupTaints: [STARTUP] };
  api.addNode(node, o.plain ? { taints: [STARTUP] } : karpenterKubelet(claim, o.userData ?? { registerWithTaints: [{ key: 'karpenter.sh/unregistered', effect: 'NoExecute' }] }));
  const kubeconfig = await api.writeKubeconfig({ user: 'token', nodeName: node });
  const cfg: KubernetesConfig = { enabled: 'auto', kubeconfig, nodeName: null, condition: 'postjoin.io/Ready', label: 'postjoin.io/result', events: true, timeoutMs: o.timeoutMs ?? 30_000 };
  const mem = memoryLogger();
  const report = await startClusterReport(cfg, { log: mem.log, stop: new AbortController().signal, nodeName: node, host });
  return { node, claim, report, mem };
}

const ours = (node: string) => api.node(node).status.conditions.filter((c: { type: string }) => c.type === 'postjoin.io/Ready');
const mine = (node: string) => api.requests.filter((r) => r.user === `system:node:${node}`);
const gets = (node: string) => mine(node).filter((r) => r.method === 'GET').length;
const statusWrites = (node: string) => mine(node).filter((r) => r.method === 'PATCH' && r.path.endsWith('/status'));
const waiting = (node: string) => `waiting for Karpenter to register Node ${node} before reporting True (the startup taint must be on first)`;
const SUCCEEDED = { reason: 'Succeeded', counts: { succeeded: 3 } } as const;

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !what(); i++) await new Promise((r) => setTimeout(r, 25));
}

t.test('a Karpenter node already registered when the run ends: True at once, no wait', async (t) => {
  const { node, claim, report, mem } = await karpenterNode();
  api.karpenterRegister(node, claim);
  t.same(api.node(node).spec.taints, [STARTUP], 'registered: the startup taint merged in, karpenter.sh/unregistered gone');
  const record = await report.final(SUCCEEDED);
  t.match(record, { made: true, status: 'True', reason: 'Succeeded' });
  t.equal(gets(node), 1, 'one read of the Node');
  t.notOk(mem.messages().some((m) => m.startsWith('waiting for Karpenter')), 'no wait');
});

t.test('registered during the wait: True only after the registration patch, with the startup taint on the Node by then', async (t) => {
  const { node, claim, report, mem } = await karpenterNode();
  const done = report.final(SUCCEEDED);
  await until(() => mem.messages().includes(waiting(node)));
  t.match(mem.records.find((r) => r.msg === waiting(node)), { level: 'info', node }, 'the journal says what it waits for, at info level');
  t.same(ours(node), [], 'nothing written while waiting');
  t.same(api.node(node).spec.taints, [{ key: 'karpenter.sh/unregistered', effect: 'NoExecute' }]);
  const registeredAt = api.requests.length; // the patch is applied in the server's own process, at once
  api.karpenterRegister(node, claim);
  t.match(api.node(node).metadata.managedFields, [{}, {}, { manager: 'karpenter', operation: 'Update' }], "the stored Node has Karpenter's write");
  const record = await done;
  t.match(record, { made: true, status: 'True', reason: 'Succeeded' });
  t.notOk(record?.error);
  const trueWrite = api.requests.findIndex((r) => r.user === `system:node:${node}` && r.method === 'PATCH' && r.path.endsWith('/status'));
  t.ok(trueWrite >= registeredAt, 'True was written after the registration patch');
  t.same(api.node(node).spec.taints, [STARTUP], 'the startup taint is on the Node, for the controller to remove on True');
  t.equal(api.node(node).metadata.labels['karpenter.sh/registered'], 'true');
  t.match(mem.messages(), [waiting(node), /^Karpenter registered Node \S+ after \d/, /^reported postjoin\.io\/Ready=True\/Succeeded to Node/]);
});

t.test('never registered within kubernetes.timeout: True is not written, the report is not made, one warning says why', async (t) => {
  const { node, report, mem } = await karpenterNode({ timeoutMs: 6_000 });
  const started = Date.now();
  const record = await report.final(SUCCEEDED);
  t.ok(Date.now() - started < 15_000, 'bounded by the budget');
  t.match(record, {
    made: false,
    status: 'True',
    reason: 'Succeeded',
    error: `condition postjoin.io/Ready=True/Succeeded: not written: Karpenter had not registered Node ${node} when kubernetes.timeout (6s) passed (the taint karpenter.sh/unregistered is still on it); True before that would let the startup taint be removed and then added back by Karpenter`,
  });
  t.same(statusWrites(node), [], 'no condition written');
  t.notOk(api.node(node).metadata.labels['postjoin.io/result'], 'no label');
  t.equal(api.events().filter((e) => e.regarding?.name === node).length, 0, 'no event');
  t.ok(gets(node) >= 2, `the Node was read again while waiting (${gets(node)} reads)`);
  const warnings = mem.records.filter((r) => r.level === 'warn').map((r) => String(r.msg));
  t.equal(warnings.length, 1);
  t.match(warnings[0], /^could not report to Node \S+: condition postjoin\.io\/Ready=True\/Succeeded: not written: Karpenter had not registered/);
});

t.test('a Karpenter node whose user data dropped the taint (label without registered=true) waits too', async (t) => {
  // A --register-with-taints in the EC2NodeClass's user data replaces Karpenter's taints; since core 1.3 it still registers.
  const { node, claim, report, mem } = await karpenterNode({ userData: { registerWithTaints: [] } });
  t.notOk(api.node(node).spec?.taints, 'no karpenter.sh/unregistered taint');
  const done = report.final(SUCCEEDED);
  await until(() => mem.messages().includes(waiting(node)));
  t.ok(mem.messages().includes(waiting(node)), 'it waits');
  t.same(statusWrites(node), [], 'nothing written before the registration');
  api.karpenterRegister(node, claim);
  t.match(await done, { made: true, status: 'True' });
  t.same(api.node(node).spec.taints, [STARTUP]);
});

t.test('a False report never waits for Karpenter: False is always safe', async (t) => {
  const { node, report, mem } = await karpenterNode();
  report.running('3 task(s)');
  await until(() => ours(node).length === 1);
  t.match(ours(node), [{ status: 'False', reason: 'Running' }], 'Running is written at once');
  const record = await report.final({ reason: 'TaskFailed', task: 'x', error: 'exit 1' });
  t.match(record, { made: true, status: 'False', reason: 'TaskFailed' });
  t.notOk(mem.messages().some((m) => m.startsWith('waiting for Karpenter')));
  t.same(api.node(node).spec.taints, [{ key: 'karpenter.sh/unregistered', effect: 'NoExecute' }], 'still unregistered: it did not matter');
});

t.test('a node Karpenter does not manage never waits', async (t) => {
  const { node, report, mem } = await karpenterNode({ plain: true });
  t.match(await report.final(SUCCEEDED), { made: true, status: 'True' });
  t.same(
    mine(node).map((r) => `${r.method} ${r.path.replace(node, 'NODE')}`),
    ['GET /api/v1/nodes/NODE', 'PATCH /api/v1/nodes/NODE/status', 'PATCH /api/v1/nodes/NODE', 'POST /api/v1/namespaces/default/events'],
  );
  t.notOk(mem.messages().some((m) => m.startsWith('waiting for Karpenter')));
});

t.test('with do-not-sync-taints (karpenter-provider-aws 1.5+, every amiFamily but Custom) the startup taint is the kubelet\'s from the start', async (t) => {
  const { node, claim, report } = await karpenterNode({ userData: { doNotSyncTaints: true } });
  t.same(api.node(node).spec.taints, [STARTUP, { key: 'karpenter.sh/unregistered', effect: 'NoExecute' }], 'registered with both taints');
  api.karpenterRegister(node, { ...claim, startupTaints: [{ key: 'example.com/other', effect: 'NoSchedule' }] });
  t.same(api.node(node).spec.taints, [STARTUP], 'Karpenter only removes its own taint; it syncs none');
  t.match(await report.final(SUCCEEDED), { made: true, status: 'True' });
});
