// Runs that end before their tasks, reported to the Node by the real bundle: an invalid plan (exit 2) and an
// unreadable source (exit 4) happen before readiness, so with reporting on the run waits for readiness first, then
// reports and exits with the same code; not ready (exit 3) is reported as NotReady; a config that cannot be read
// cannot be reported at all (the kubeconfig is named in it).
import { writeFile } from 'node:fs/promises';
import t from 'tap';
import { startImdsServer } from '../emulators/imds-server.js';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { taskList } from '../helpers/cli.js';
import { emulatedAwsEnv } from '../helpers/fake-node.js';
import { eventsOn, handoffNode, journal, oursOn, requestsOf, runWithLateKubeconfig, type HandoffNode } from '../helpers/handoff-node.js';

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());

/**
 * Runs with the kubelet unhealthy until the gate has polled it a few times (so the run is visibly waiting), then
 * healthy. Returns the run and how many requests the node had sent to the API server when the kubelet turned
 * healthy (0: nothing was reported before readiness).
 */
async function runUntilWaited(h: HandoffNode, env?: NodeJS.ProcessEnv) {
  h.kubelet.setHealthy(false);
  let sentBefore = -1;
  let done = false;
  const running = h.run(env ? { env } : {}).finally(() => (done = true));
  while (!done && h.kubelet.polls < 4) await new Promise((r) => setTimeout(r, 10));
  sentBefore = requestsOf(api, h.node).length;
  h.kubelet.setHealthy(true);
  return { r: await running, sentBefore, polls: h.kubelet.polls };
}

t.test('an invalid plan (exit 2): the run waits for readiness, reports False/InvalidPlan with the first problem and the count, then exits 2', async (t) => {
  const h = await handoffNode(t, api);
  const file = await h.task('10.yaml', taskList('  - { name: a, shell: "echo no such kind" }\n  - { name: b, exec: { args: [x] } }\n'));
  const { r, sentBefore } = await runUntilWaited(h);
  t.equal(r.code, 2, r.stdout.slice(-3000));
  t.equal(sentBefore, 0, 'nothing was reported before the node was ready');
  t.ok(h.kubelet.polls > 4, `the gate polled the kubelet until it was healthy (${h.kubelet.polls} polls)`);
  t.ok(journal(r).some((l) => /^waiting for readiness to report this result to Node .* then exiting 2$/.test(String(l.msg))), 'the journal says why it waits');
  t.match(oursOn(api, h.node), [{ status: 'False', reason: 'InvalidPlan', message: new RegExp(`^invalid input, no task was started: 2 problem\\(s\\); the first: file:${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: tasks\\[0\\]`) }]);
  t.equal(api.node(h.node).metadata.labels['postjoin.io/result'], 'failed');
  t.match(eventsOn(api, h.node), [{ type: 'Warning', reason: 'PostjoinInvalidPlan' }]);
  t.notOk(requestsOf(api, h.node).some((q) => q.method === 'PATCH' && (q.body as any)?.status?.conditions?.[0]?.reason === 'Running'), 'no Running: no task was going to run');
  t.match(JSON.parse((await h.status(true)).stdout), { result: 'invalid', report: { made: true, reason: 'InvalidPlan' } });
});

t.test('an invalid plan with enabled: auto before the kubelet has written its kubeconfig (TLS bootstrap): reported once ready, exit 2', async (t) => {
  const h = await handoffNode(t, api);
  await h.task('10.yaml', taskList('  - { name: a, shell: "echo no such kind" }\n'));
  const late = await runWithLateKubeconfig(h);
  // The kubelet writes its kubeconfig once its CSR is approved, before its healthz answers ok.
  await late.writeKubeconfig();
  const r = await late.running;
  t.equal(r.code, 2, r.stdout.slice(-3000));
  t.match(oursOn(api, h.node), [{ status: 'False', reason: 'InvalidPlan' }], 'decided when reporting, after readiness');
  t.match(eventsOn(api, h.node), [{ type: 'Warning', reason: 'PostjoinInvalidPlan' }]);
});

t.test('a source that cannot be read (exit 4): reported as False/SourceError after readiness, then exit 4', async (t) => {
  const imds = await startImdsServer();
  t.teardown(() => imds.close());
  imds.setDown({ kind: 'status', status: 500 });
  const h = await handoffNode(t, api, { more: 'sources: [file, userdata]\nimds: { enabled: true, budget: 1s }' });
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  const { r, sentBefore } = await runUntilWaited(h, emulatedAwsEnv(h.dir, { imds: imds.url }));
  t.equal(r.code, 4, r.stdout.slice(-3000));
  t.equal(sentBefore, 0, 'nothing was reported before the node was ready');
  t.match(oursOn(api, h.node), [{ status: 'False', reason: 'SourceError', message: /^a task source could not be read, no task was started: .*user-data/ }]);
  t.match(eventsOn(api, h.node), [{ type: 'Warning', reason: 'PostjoinSourceError' }]);
});

t.test('not ready (exit 3): False/NotReady naming what was not ready', async (t) => {
  const h = await handoffNode(t, api, { readiness: 'timeout: 1s' });
  h.kubelet.setHealthy(false);
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  const r = await h.run();
  t.equal(r.code, 3, r.stdout.slice(-3000));
  t.match(oursOn(api, h.node), [{ status: 'False', reason: 'NotReady', message: /not ready in time.*kubelet healthz: HTTP 503/ }]);
  t.match(eventsOn(api, h.node), [{ type: 'Warning', reason: 'PostjoinNotReady' }]);
});

t.test('an invalid plan on a node that never gets ready: still reported when the readiness timeout ends the wait, exit 2', async (t) => {
  const h = await handoffNode(t, api, { readiness: 'timeout: 1s' });
  h.kubelet.setHealthy(false);
  await h.task('10.yaml', taskList('  - { name: a, shell: x }\n'));
  const r = await h.run();
  t.equal(r.code, 2, 'the exit code is the plan\'s, not readiness\'s');
  t.match(oursOn(api, h.node), [{ reason: 'InvalidPlan' }]);
});

t.test('SIGTERM while an invalid plan waits for readiness: the wait ends at once, InvalidPlan is reported, exit 2', async (t) => {
  const h = await handoffNode(t, api, { readiness: 'timeout: 5m' });
  h.kubelet.setHealthy(false);
  await h.task('10.yaml', taskList('  - { name: a, shell: x }\n'));
  let pid = 0;
  const running = h.run({ onSpawn: (p) => (pid = p) });
  for (let i = 0; i < 1000 && h.kubelet.polls < 2; i++) await new Promise((r) => setTimeout(r, 20));
  const sent = Date.now();
  process.kill(pid, 'SIGTERM');
  const r = await running;
  const ms = Date.now() - sent;
  t.comment(`exited ${ms} ms after SIGTERM`);
  t.ok(ms < 8000, `exited within 5 s of SIGTERM (asserted with margin): ${ms} ms`);
  t.equal(r.code, 2);
  t.match(oursOn(api, h.node), [{ reason: 'InvalidPlan' }]);
});

t.test('a config that cannot be parsed cannot be reported: exit 2, no request, and the journal says so', async (t) => {
  const h = await handoffNode(t, api);
  await writeFile(h.configPath, `kubernetes: { kubeconfig: ${h.kubeconfig}, nodeName: ${h.node}\nsources: [file\n`);
  const r = await h.run();
  t.equal(r.code, 2);
  t.same(requestsOf(api, h.node), [], 'nothing sent: the kubeconfig is only known from the config');
  t.ok(journal(r).some((l) => /not reported to the Node: the config/.test(String(l.msg))), 'the journal says the result is not reported');
  t.notOk('report' in JSON.parse((await h.status(true)).stdout), 'status: no report');
});
