// The cluster report when the API server misbehaves: 5xx, 429 and a not-yet-registered Node are retried within
// kubernetes.timeout; a hanging server or a closed port costs at most the timeout; after the stop signal the
// in-flight request is dropped and one Stopped report gets at most 5 s. None of it throws to the caller.
import t from 'tap';
import { createHost } from '../../src/host/host.js';
import type { KubernetesConfig } from '../../src/config/agent-config.js';
import { STOPPED_REPORT_MS, startClusterReport } from '../../src/report/cluster-report.js';
import { StopReason } from '../../src/base/stop-reason.js';
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
t.afterEach(() => api.mode('ok'));

/** Generous: the machine is shared; what matters is that a 30 s or 2 s bound is not exceeded by more. */
const MARGIN_MS = 1500;
let n = 0;

async function setup(more: Partial<KubernetesConfig> = {}, register = true) {
  const node = `ip-10-0-4-${++n}.us-west-2.compute.internal`;
  if (register) api.addNode(node);
  const kubeconfig = await api.writeKubeconfig({ user: 'token', nodeName: node });
  const cfg: KubernetesConfig = { enabled: true, kubeconfig, nodeName: null, condition: 'postjoin.io/Ready', label: 'postjoin.io/result', events: true, timeoutMs: 30_000, ...more };
  const mem = memoryLogger();
  const stop = new AbortController();
  const report = await startClusterReport(cfg, { log: mem.log, stop: stop.signal, nodeName: node, host, random: () => 0.5 });
  return { node, report, mem, stop };
}
const ours = (node: string) => (api.node(node)?.status.conditions ?? []).filter((c: { type: string }) => c.type === 'postjoin.io/Ready');
const timed = async <T>(p: Promise<T>) => {
  const started = Date.now();
  const value = await p;
  return { value, ms: Date.now() - started };
};

t.test('5xx answers are retried with backoff until the server recovers', async (t) => {
  const { node, report, mem } = await setup();
  await api.mode('5xx', { status: 503, times: 4 });
  const record = await report.final({ reason: 'Succeeded', counts: { succeeded: 1 } });
  t.match(record, { made: true });
  t.notOk(record?.error);
  t.match(ours(node), [{ status: 'True' }]);
  t.ok(api.requests.filter((r) => r.status === 503).length >= 4, 'the 503s were seen');
  t.same(mem.records.filter((r) => r.level === 'warn'), [], 'a recovered fault is no warning');
});

t.test("429 is retried after the server's Retry-After", async (t) => {
  const { report } = await setup();
  api.failNext(1, 429);
  const { value, ms } = await timed(report.final({ reason: 'Succeeded', counts: {} }));
  t.match(value, { made: true });
  t.ok(ms >= 900, `waited for Retry-After: 1 (${ms} ms)`);
});

t.test('a Node that is not registered yet (404) is retried until the kubelet registers it', async (t) => {
  const { node, report } = await setup({}, false);
  setTimeout(() => api.addNode(node), 1200);
  t.match(await report.final({ reason: 'Succeeded', counts: {} }), { made: true });
  t.ok(api.requests.some((r) => r.path === `/api/v1/nodes/${node}` && r.status === 404), 'the 404 was seen');
  t.match(ours(node), [{ status: 'True' }]);
});

t.test('a hanging server costs at most kubernetes.timeout: the whole final report returns within it, not made, one warning', async (t) => {
  const { report, mem } = await setup({ timeoutMs: 2000 });
  await api.mode('hang');
  report.running();
  const { value, ms } = await timed(report.final({ reason: 'Succeeded', counts: {} }));
  t.ok(ms <= 2000 + MARGIN_MS, `returned after ${ms} ms (timeout 2s)`);
  t.match(value, { made: false, error: /GET \/api\/v1\/nodes\/.*: (dropped: kubernetes\.timeout \(2s\) passed|no answer within)/ });
  const warns = mem.records.filter((r) => r.level === 'warn');
  t.equal(warns.length, 1);
  t.match(warns[0]?.msg, /^could not report to Node .*kubernetes\.timeout \(2s\) passed.*exit code are unchanged; it stays pending in state\.json, and postjoin report sends it \(postjoin-report\.service tries again\)$/);
});

t.test('the Running report never waits for the server, and is cut at the timeout on its own', async (t) => {
  const { node, report, mem } = await setup({ timeoutMs: 1500 });
  await api.mode('hang');
  const before = api.requests.length;
  report.running();
  await new Promise((r) => setTimeout(r, 1500 + MARGIN_MS));
  t.ok(api.requests.length > before, 'it was sent');
  t.match(mem.messages().join('\n'), /could not report Running to Node .*kubernetes\.timeout \(1s500ms\) passed/, 'and given up at the timeout');
  await api.mode('ok');
  t.match(await report.final({ reason: 'Succeeded', counts: {} }), { made: true }, 'the final report has its own time');
  t.match(ours(node), [{ status: 'True' }]);
});

t.test('a closed port: connection refused, retried until the timeout, never thrown', async (t) => {
  const { report } = await setup({ timeoutMs: 2000 });
  await api.mode('closed');
  const { value, ms } = await timed(report.final({ reason: 'TaskFailed', task: 'a', error: 'exit 1' }));
  t.ok(ms <= 2000 + MARGIN_MS, `returned after ${ms} ms`);
  t.match(value, { made: false, reason: 'TaskFailed', error: /connection refused/ });
  t.ok(api.requests.length > 0);
});

t.test('a Running request still in flight when the run ends is settled first; the final condition wins', async (t) => {
  const { node, report } = await setup({ timeoutMs: 10_000 });
  await api.mode('hang');
  report.running();
  await new Promise((r) => setTimeout(r, 200));
  await api.mode('ok'); // the hung request stays hung; new ones are answered
  const { value, ms } = await timed(report.final({ reason: 'Succeeded', counts: {} }));
  t.match(value, { made: true });
  t.ok(ms <= 10_000, `${ms} ms`);
  t.match(ours(node), [{ status: 'True', reason: 'Succeeded' }]);
});

t.test('SIGTERM while Running is in flight: it is dropped, and one Stopped report gets at most 5 s', async (t) => {
  const { node, report, stop } = await setup();
  await api.mode('hang');
  report.running();
  await new Promise((r) => setTimeout(r, 200));
  const hung = api.requests.filter((r) => r.status === 0).length;
  t.ok(hung >= 1, 'a request is hanging');
  stop.abort(StopReason.signal('SIGTERM'));
  await api.mode('ok');
  const { value, ms } = await timed(report.final({ reason: 'Stopped', message: 'stopped by SIGTERM' }));
  t.ok(ms <= STOPPED_REPORT_MS + MARGIN_MS, `${ms} ms`);
  t.match(value, { made: true, reason: 'Stopped' });
  t.match(ours(node), [{ status: 'False', reason: 'Stopped', message: 'the run was stopped: stopped by SIGTERM' }]);
});

t.test('SIGTERM with the server hanging: the Stopped attempt ends within 5 s although kubernetes.timeout is 30 s', async (t) => {
  const { report, stop, mem } = await setup({ timeoutMs: 30_000 });
  await api.mode('hang');
  report.running();
  stop.abort(StopReason.signal('SIGTERM'));
  const { value, ms } = await timed(report.final({ reason: 'Stopped', message: 'stopped by SIGTERM' }));
  t.ok(ms <= STOPPED_REPORT_MS + MARGIN_MS, `returned after ${ms} ms`);
  t.match(value, { made: false, error: /the 5s allowed after the stop signal passed/ });
  t.equal(mem.records.filter((r) => r.level === 'warn').length, 1);
});

t.test('SIGTERM during the final report cuts it to 5 s from the signal', async (t) => {
  const { report, stop } = await setup({ timeoutMs: 30_000 });
  await api.mode('hang');
  const pending = timed(report.final({ reason: 'Succeeded', counts: {} }));
  await new Promise((r) => setTimeout(r, 500));
  const signalled = Date.now();
  stop.abort(StopReason.signal('SIGTERM'));
  const { value } = await pending;
  const after = Date.now() - signalled;
  t.ok(after <= STOPPED_REPORT_MS + MARGIN_MS, `returned ${after} ms after the signal`);
  t.match(value, { made: false, reason: 'Succeeded' }, 'the outcome is what the run says; only the time is cut');
});

t.test('an exec plugin that hangs is killed within the timeout, and the report says so', async (t) => {
  const node = `ip-10-0-4-${++n}.us-west-2.compute.internal`;
  api.addNode(node);
  const plugin = await execPlugin({ kind: 'hang', pidFile: `${api.caFile}.${n}.pids` });
  const kubeconfig = await api.writeKubeconfig({ user: 'exec', exec: { command: plugin.command } });
  const report = await startClusterReport(
    { enabled: true, kubeconfig, nodeName: null, condition: 'postjoin.io/Ready', label: null, events: false, timeoutMs: 2000 },
    { log: memoryLogger().log, stop: new AbortController().signal, nodeName: node, host },
  );
  const { value, ms } = await timed(report.final({ reason: 'Succeeded', counts: {} }));
  t.ok(ms <= 2000 + MARGIN_MS, `returned after ${ms} ms`);
  t.match(value, { made: false, error: /exec plugin ".*": (no credential within 2s|kubernetes\.timeout \(2s\) passed); killed/ });
});

t.test('the run deadline (not a signal) leaves the final report its whole timeout', async (t) => {
  const { report, stop } = await setup({ timeoutMs: 6500 });
  await api.mode('hang');
  stop.abort(StopReason.deadline(55 * 60_000));
  const { value, ms } = await timed(report.final({ reason: 'TaskFailed', task: 'a', error: 'the run deadline passed' }));
  t.ok(ms > STOPPED_REPORT_MS + 500, `kept trying past 5 s (${ms} ms)`);
  t.ok(ms <= 6500 + MARGIN_MS, `and stopped at the timeout (${ms} ms)`);
  t.match(value, { made: false, error: /kubernetes\.timeout \(6s500ms\) passed/ });
});
