// The cluster report end to end against the Kubernetes API stand-in: Running beside the run, then the final
// condition, label and event, for every outcome; the kubelet's conditions survive every write, no taint and no
// merge patch of conditions is ever sent, lastTransitionTime moves only when the status does.
import t from 'tap';
import { createHost } from '../../src/host/host.js';
import type { KubernetesConfig } from '../../src/config/agent-config.js';
import type { Outcome } from '../../src/report/cluster-outcome.js';
import { startClusterReport } from '../../src/report/cluster-report.js';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { execPlugin } from '../helpers/exec-plugins.js';
import { memoryLogger } from '../helpers/memory-log.js';

/** The machine as `run` hands it to the report: the Kubernetes API through the kubeconfig. */
const host = createHost();

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());

let n = 0;
/** A fresh registered Node, its kubeconfig, and a started report for it. */
async function setup(more: Partial<KubernetesConfig> = {}, user: 'token' | 'cert' = 'token') {
  const node = `ip-10-0-2-${++n}.us-west-2.compute.internal`;
  api.addNode(node, { taints: [{ key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' }] });
  const kubeconfig = await api.writeKubeconfig({ user, nodeName: node });
  const cfg: KubernetesConfig = { enabled: 'auto', kubeconfig, nodeName: null, condition: 'postjoin.io/Ready', label: 'postjoin.io/result', events: true, timeoutMs: 30_000, ...more };
  const mem = memoryLogger();
  const stop = new AbortController();
  const report = await startClusterReport(cfg, { log: mem.log, stop: stop.signal, nodeName: node, host, random: () => 0.5 });
  return { node, cfg, report, mem, stop };
}

const ours = (node: string) => api.node(node).status.conditions.filter((c: { type: string }) => c.type === 'postjoin.io/Ready');
const kubelets = (node: string) => api.node(node).status.conditions.filter((c: { type: string }) => c.type !== 'postjoin.io/Ready');
const eventsFor = (node: string) => api.events().filter((e) => e.regarding?.name === node);
const requestsFor = (node: string) => api.requests.filter((r) => r.path.includes(node) || r.user === `system:node:${node}`);

async function waitFor(what: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 25));
}

t.test('reporting is on with enabled: true, or auto when the kubeconfig exists when reporting; off otherwise, and then sends nothing', async (t) => {
  const mem = memoryLogger();
  const log = mem.log;
  const stop = new AbortController().signal;
  const base: KubernetesConfig = { enabled: 'auto', kubeconfig: '/nonexistent/kubeconfig', nodeName: null, condition: 'postjoin.io/Ready', label: null, events: false, timeoutMs: 1000 };
  const before = api.requests.length;
  const auto = await startClusterReport(base, { log, stop, nodeName: 'x', host });
  t.equal(auto.on, true, 'auto: decided by each report, not at the start');
  auto.running();
  t.equal(await auto.final({ reason: 'Succeeded', counts: {} }), undefined, 'auto without a kubeconfig at the final report: nothing made, nothing recorded');
  t.match(mem.messages(), [/^not reporting Running to Node x: kubernetes\.enabled is auto and \/nonexistent\/kubeconfig does not exist/, /^not reporting to the Node: kubernetes\.enabled is auto/]);
  t.equal((await startClusterReport({ ...base, enabled: false, kubeconfig: await api.writeKubeconfig({ user: 'admin' }) }, { log, stop, nodeName: 'x', host })).on, false);
  t.equal(api.requests.length, before, 'no request');
  const on = await startClusterReport({ ...base, enabled: true }, { log, stop, nodeName: 'x', host });
  t.equal(on.on, true, 'enabled: true reports even without a kubeconfig');
  t.match(await on.final({ reason: 'Succeeded', counts: {} }), { made: false, error: /kubeconfig \/nonexistent\/kubeconfig: cannot read: ENOENT/ });
  t.equal((await setup()).report.on, true, 'auto with the kubeconfig: on');
});

t.test('a run that succeeds: False/Running beside the run, then True/Succeeded, label succeeded, one Normal event', async (t) => {
  const { node, report, mem } = await setup();
  const kubeletBefore = kubelets(node);
  t.equal(report.running('3 task(s)'), undefined, 'running() returns nothing to wait for');
  await waitFor(() => ours(node).length === 1);
  t.match(ours(node), [{ status: 'False', reason: 'Running', message: "postjoin is running the node's tasks: 3 task(s)" }]);
  const record = await report.final({ reason: 'Succeeded', counts: { succeeded: 2, continued: 1, 'skipped-done': 0, 'not-run': 0 } });
  t.match(record, { made: true, node, condition: 'postjoin.io/Ready', status: 'True', reason: 'Succeeded', at: /^\d{4}-/ });
  t.notOk(record?.error);
  t.match(ours(node), [{ status: 'True', reason: 'Succeeded', message: 'all tasks done: 2 succeeded, 1 continued' }], 'exactly one postjoin condition');
  t.same(kubelets(node), kubeletBefore, "the kubelet's conditions untouched");
  t.equal(api.node(node).metadata.labels['postjoin.io/result'], 'succeeded');
  const evs = eventsFor(node);
  t.equal(evs.length, 1, 'one event per run');
  t.match(evs[0], { type: 'Normal', reason: 'PostjoinSucceeded', reportingController: 'postjoin.io/postjoin', reportingInstance: node, regarding: { kind: 'Node', name: node, uid: node }, deprecatedSource: { component: 'postjoin.io/postjoin', host: node }, deprecatedCount: 1 });
  t.same(api.node(node).spec.taints, [{ key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' }], 'the startup taint is not ours to touch');
  t.same(mem.records.filter((r) => r.level === 'warn'), [], 'no warning');
  t.match(mem.messages(), [/reported postjoin\.io\/Ready=False\/Running/, /reported postjoin\.io\/Ready=True\/Succeeded to Node/]);
  t.equal(await report.final({ reason: 'Stopped', message: 'x' }), record, 'final() reports once; a second call gets the first result');
});

const failures: [Outcome, RegExp][] = [
  [{ reason: 'TaskFailed', task: 'prepull', source: 'file:/etc/postjoin/tasks.d/10-prepull.yaml#tasks[0]', error: 'exit code 1 after 3 attempts' }, /^task "prepull" \(file:\/etc\/postjoin\/tasks\.d\/10-prepull\.yaml#tasks\[0\]\) failed: exit code 1 after 3 attempts$/],
  [{ reason: 'InvalidPlan', first: 'tag:postjoin:10-x: unknown kind "shell"', count: 3 }, /3 problem\(s\); the first: tag:postjoin:10-x: unknown kind "shell"$/],
  [{ reason: 'SourceError', message: 'IMDS http://169.254.169.254: /latest/user-data: no answer within imds.budget (2m)' }, /a task source could not be read.*imds\.budget/],
  [{ reason: 'NotReady', message: 'kubelet healthz: not healthy after 10m' }, /not ready in time.*kubelet healthz/],
  [{ reason: 'Stopped', message: 'stopped by SIGTERM' }, /the run was stopped: stopped by SIGTERM/],
];

for (const [outcome, message] of failures) {
  t.test(`${outcome.reason}: False/${outcome.reason}, label failed, one Warning event with the same words`, async (t) => {
    const { node, report } = await setup({}, 'cert');
    report.running();
    const record = await report.final(outcome);
    t.match(record, { made: true, status: 'False', reason: outcome.reason });
    t.match(ours(node), [{ status: 'False', reason: outcome.reason, message }]);
    t.equal(api.node(node).metadata.labels['postjoin.io/result'], 'failed');
    const evs = eventsFor(node);
    t.equal(evs.length, 1);
    t.match(evs[0], { type: 'Warning', reason: `Postjoin${outcome.reason}`, note: message });
    t.equal(kubelets(node).length, 4);
  });
}

t.test('lastTransitionTime stays while the status stays, moves when it changes; lastHeartbeatTime moves on every write', async (t) => {
  const { node, report } = await setup({ events: false, label: null });
  await report.final({ reason: 'Succeeded', counts: {} });
  const [first] = ours(node);
  await new Promise((r) => setTimeout(r, 1100)); // the times have whole seconds
  // The next boot: Running (True -> False: a transition), then a failure (False -> False: none).
  const stop = new AbortController();
  const again = await startClusterReport(
    { enabled: true, kubeconfig: (await api.writeKubeconfig({ user: 'token', nodeName: node })), nodeName: null, condition: 'postjoin.io/Ready', label: null, events: false, timeoutMs: 30_000 },
    { log: memoryLogger().log, stop: stop.signal, nodeName: node, host },
  );
  again.running();
  await waitFor(() => ours(node)[0]?.reason === 'Running');
  const [running] = ours(node);
  t.not(running.lastTransitionTime, first.lastTransitionTime, 'True -> False moves it');
  await new Promise((r) => setTimeout(r, 1100));
  await again.final({ reason: 'TaskFailed', task: 'a', error: 'exit 1' });
  const [failed] = ours(node);
  t.equal(failed.lastTransitionTime, running.lastTransitionTime, 'False -> False keeps it');
  t.not(failed.lastHeartbeatTime, running.lastHeartbeatTime, 'the heartbeat time is each write\'s');
  t.equal(ours(node).length, 1);
  t.same(eventsFor(node), [], 'events: false posts none');
  t.notOk('postjoin.io/result' in api.node(node).metadata.labels, 'label: null sets none');
});

t.test('the kubelet keeps heartbeating: its conditions and ours both survive every write, in any order', async (t) => {
  const { node, report } = await setup();
  report.running();
  await waitFor(() => ours(node).length === 1);
  api.kubeletHeartbeat(node);
  t.match(ours(node), [{ reason: 'Running' }], 'a heartbeat after ours keeps ours');
  await report.final({ reason: 'Succeeded', counts: { succeeded: 1 } });
  api.kubeletHeartbeat(node);
  t.match(ours(node), [{ status: 'True', reason: 'Succeeded' }]);
  t.same(kubelets(node).map((c: { type: string; status: string }) => `${c.type}=${c.status}`), ['MemoryPressure=False', 'DiskPressure=False', 'PIDPressure=False', 'Ready=True']);
});

t.test('over all the runs above: no taint write, no merge patch of conditions, only our own node', async (t) => {
  const writes = api.requests.filter((r) => r.method !== 'GET');
  t.ok(writes.length > 20, `${writes.length} writes looked at`);
  for (const r of writes) {
    const body = JSON.stringify(r.body ?? '');
    t.notMatch(body, /"taints"/, `${r.method} ${r.path}: no taints`);
    if (r.path.endsWith('/status')) t.equal(r.contentType, 'application/strategic-merge-patch+json', `${r.path}: strategic merge`);
    t.not(r.contentType, 'application/merge-patch+json', 'never a JSON merge patch');
    t.not(r.contentType, 'application/json-patch+json', 'never a JSON patch');
    if (r.path.startsWith('/api/v1/nodes/')) t.equal(r.user, `system:node:${decodeURIComponent(r.path.split('/')[4]!)}`, 'a node writes only its own Node');
  }
});

t.test("the AL2023 kubeconfig shape: an exec plugin (aws eks get-token's protocol) with the CA file", async (t) => {
  const node = 'ip-10-0-3-1.us-west-2.compute.internal';
  api.addNode(node);
  const plugin = await execPlugin({ kind: 'token', token: api.tokenFor(node), expiresInS: 840 });
  const kubeconfig = await api.writeKubeconfig({ user: 'exec', exec: { command: plugin.command, args: ['eks', 'get-token', '--cluster-name', 'standin', '--region', 'us-west-2'] } });
  const report = await startClusterReport(
    { enabled: 'auto', kubeconfig, nodeName: null, condition: 'postjoin.io/Ready', label: 'postjoin.io/result', events: true, timeoutMs: 30_000 },
    { log: memoryLogger().log, stop: new AbortController().signal, nodeName: node, host },
  );
  report.running();
  t.match(await report.final({ reason: 'Succeeded', counts: { succeeded: 1 } }), { made: true });
  t.equal((await plugin.calls()).length, 1, 'one plugin run for the whole run: the credential is cached');
  t.match(ours(node), [{ status: 'True' }]);
});

t.test("a refused write (kubernetes.nodeName is not the credential's node) is one warning, and the result says what and why", async (t) => {
  const mine = await setup();
  const other = await setup();
  // The credential is the first node's; the report is for the second: NodeRestriction refuses it, as a real server would.
  const kubeconfig = await api.writeKubeconfig({ user: 'token', nodeName: mine.node });
  const wrong = await startClusterReport({ ...other.cfg, kubeconfig }, { log: other.mem.log, stop: new AbortController().signal, nodeName: other.node, host });
  const record = await wrong.final({ reason: 'Succeeded', counts: {} });
  t.match(record, { made: false, node: other.node, error: /HTTP 403 Forbidden: .*is not allowed to modify node/ });
  const warns = other.mem.records.filter((r) => r.level === 'warn');
  t.equal(warns.length, 1, 'one warning line');
  t.match(warns[0]?.msg, new RegExp(`^could not report to Node ${other.node.replaceAll('.', '\\.')}: condition postjoin\\.io/Ready=True/Succeeded: .*403.*; the run's result and exit code are unchanged; it stays pending in state\\.json, and postjoin report sends it \\(postjoin-report\\.service tries again\\)$`));
  t.equal(ours(other.node).length, 0, 'nothing was written on the other node');
});

t.test('requests come only from the reporter, for its own node', async (t) => {
  const { node, report } = await setup();
  await report.final({ reason: 'Succeeded', counts: {} });
  const mine = requestsFor(node);
  t.same(
    mine.map((r) => `${r.method} ${r.path.replace(node, 'NODE')}`),
    ['GET /api/v1/nodes/NODE', 'PATCH /api/v1/nodes/NODE/status', 'PATCH /api/v1/nodes/NODE', 'POST /api/v1/namespaces/default/events'],
    'read, condition, label, event: nothing else',
  );
  t.match(mine[0]?.userAgent, /^postjoin\//);
});


t.test('a Running write the server applies after the final one is overwritten when the Node is read back', async (t) => {
  const { NodeWriter } = await import('../../src/report/cluster-writer.js');
  const { describeOutcome, describeRunning } = await import('../../src/report/cluster-outcome.js');
  const node = `ip-10-0-2-${++n}.us-west-2.compute.internal`;
  api.addNode(node);
  const writer = new NodeWriter({ kubeconfig: await api.writeKubeconfig({ user: 'token', nodeName: node }), nodeName: node, condition: 'postjoin.io/Ready', label: null, events: false, host, log: memoryLogger().log });
  const budget = () => ({ signal: new AbortController().signal, deadline: Date.now() + 10_000 });
  const final = describeOutcome({ reason: 'Succeeded', counts: {} });
  t.match(await writer.write(final, true, budget()), { made: true, errors: [] });
  await writer.write(describeRunning(), false, budget()); // the late Running write, as the server might apply it
  t.match(ours(node), [{ reason: 'Running' }]);
  await writer.confirm(final, budget());
  t.match(ours(node), [{ status: 'True', reason: 'Succeeded' }], 'the final condition wins');
  const patches = api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`${node}/status`)).length;
  await writer.confirm(final, budget());
  t.equal(api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`${node}/status`)).length, patches, 'already right: read, no write');
});
