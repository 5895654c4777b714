// report/pending-report.ts in-process, against the Kubernetes API stand-in: one try of `postjoin report` reads
// state.json, sends what is missing under the run lock, and records the try; the bundle as a process is
// test/verbs/report-pending.test.ts. Here also: the stop signal cuts a try against a hanging server at once.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { StopReason } from '../../src/base/stop-reason.js';
import { defaultConfig, type KubernetesConfig } from '../../src/config/agent-config.js';
import { createHost } from '../../src/host/host.js';
import { describeOutcome } from '../../src/report/cluster-outcome.js';
import { tryPendingReport } from '../../src/report/pending-report.js';
import { firstRecord } from '../../src/report/report-record.js';
import { acquireRunLock } from '../../src/state/run-lock.js';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { memoryLogger } from '../helpers/memory-log.js';

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());
t.afterEach(() => api.mode('ok'));

const host = createHost();
let n = 0;
const desc = describeOutcome({ reason: 'Succeeded', counts: { succeeded: 2 } });

/** A node whose last run could not report: state.json with a pending record, and the config to send it with. */
async function pendingNode(more: Partial<KubernetesConfig> = {}) {
  const node = `ip-10-0-5-${++n}.us-west-2.compute.internal`;
  api.addNode(node);
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-pending-'));
  const kubeconfig = await api.writeKubeconfig({ user: 'token', nodeName: node });
  const kubernetes: KubernetesConfig = { ...defaultConfig().kubernetes, kubeconfig, nodeName: node, timeoutMs: 2000, ...more };
  const record = firstRecord(desc, { made: false, errors: ['condition …: connection refused'] }, kubernetes, node, new Date(Date.now() - 60_000), 2000);
  const state = { version: 1, startedAt: new Date(Date.now() - 70_000).toISOString(), finishedAt: new Date(Date.now() - 62_000).toISOString(), result: 'succeeded', exitCode: 0, tasks: [], done: {}, report: { ...record, endedAt: new Date(Date.now() - 62_000).toISOString() } };
  await writeFile(join(dir, 'state.json'), JSON.stringify(state));
  const { log, messages } = memoryLogger();
  const stop = new AbortController();
  const deps = { stateDir: dir, configPath: '/etc/postjoin/config.yaml', kubernetes, bootId: 'boot-1', host, log, stop: stop.signal };
  const saved = async () => JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'));
  return { node, dir, deps, stop, saved, messages };
}

t.test('one try: down, then up; the try is recorded each time, and once made nothing is left', async (t) => {
  const p = await pendingNode();
  await api.mode('closed');
  const down = await tryPendingReport(p.deps);
  t.match(down, { kind: 'failed', retry: true, message: /^could not report to Node \S+ \(try 2, pending since \S+\): condition postjoin\.io\/Ready=True\/Succeeded: .*connection refused/ });
  t.match((await p.saved()).report, { made: false, tries: 2 });
  await api.mode('ok');
  const up = await tryPendingReport(p.deps);
  t.match(up, { kind: 'made', message: /^reported postjoin\.io\/Ready=True\/Succeeded, label postjoin\.io\/result=succeeded, event PostjoinSucceeded to Node \S+ \(try 3, / });
  t.match((await p.saved()).report, { made: true, missing: [], tries: 3 });
  t.equal(api.node(p.node).metadata.labels['postjoin.io/result'], 'succeeded');
  const sent = api.requests.length;
  t.match(await tryPendingReport(p.deps), { kind: 'nothing', message: /^nothing to report: the last run's report to Node \S+ was made at / });
  t.equal(api.requests.length, sent, 'nothing pending: no request');
});

t.test('the stop signal cuts a try against a hanging server at once; the try is recorded as not made', async (t) => {
  const p = await pendingNode({ timeoutMs: 60_000 });
  await api.mode('hang');
  const trying = tryPendingReport(p.deps);
  while (!api.requests.some((r) => r.path.endsWith(p.node) && r.status === 0)) await new Promise((r) => setTimeout(r, 10));
  const cut = Date.now();
  p.stop.abort(StopReason.signal('SIGTERM'));
  const r = await trying;
  t.ok(Date.now() - cut < 5000, `ended ${Date.now() - cut} ms after the signal, not at kubernetes.timeout (60 s)`);
  t.match(r, { kind: 'failed', message: /stopped by SIGTERM/ });
  t.match((await p.saved()).report, { made: false, tries: 2, error: /stopped by SIGTERM/ });
});

t.test('a run holding the lock: not this time, the state untouched; enabled: false: nothing sent, still pending', async (t) => {
  const p = await pendingNode();
  const before = await readFile(join(p.dir, 'state.json'), 'utf8');
  const held = await acquireRunLock(p.dir, 'boot-1');
  const busy = await tryPendingReport(p.deps).finally(() => held.release());
  t.match(busy, { kind: 'failed', retry: true, message: new RegExp(`^not reported this time: another postjoin run \\(pid ${process.pid}\\) is in progress`) });
  t.equal(await readFile(join(p.dir, 'state.json'), 'utf8'), before);
  const off = await tryPendingReport({ ...p.deps, kubernetes: { ...p.deps.kubernetes, enabled: false } });
  t.match(off, { kind: 'nothing', message: /^not reporting: kubernetes\.enabled is false in \/etc\/postjoin\/config\.yaml; the outcome stays pending/ });
  t.equal(await readFile(join(p.dir, 'state.json'), 'utf8'), before);
});

t.test('no state, a corrupt one, a run that did not report or did not finish: said so, and only the corrupt one fails', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-pending-'));
  const p = await pendingNode();
  const deps = { ...p.deps, stateDir: dir };
  t.match(await tryPendingReport(deps), { kind: 'nothing', message: /^nothing to report: no run recorded in / });
  await writeFile(join(dir, 'state.json'), '{');
  t.match(await tryPendingReport(deps), { kind: 'failed', retry: false, message: /^cannot report: the state file .* is unreadable: not valid JSON/ });
  const base = { version: 1, startedAt: '2026-01-01T00:00:00.000Z', tasks: [], done: {} };
  await writeFile(join(dir, 'state.json'), JSON.stringify({ ...base, result: 'succeeded' }));
  t.match(await tryPendingReport(deps), { kind: 'nothing', message: /did not report to a Node \(reporting was off, or its config could not be read\)$/ });
  await writeFile(join(dir, 'state.json'), JSON.stringify({ ...base, result: 'running' }));
  t.match(await tryPendingReport(deps), { kind: 'nothing', message: /has not finished, or died; a run reports its own result when it ends$/ });
});
