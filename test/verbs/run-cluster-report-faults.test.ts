// The cluster report from `postjoin run` (the real bundle) when things go wrong: a SIGTERM during the tasks or
// while a report hangs, an API server that hangs, answers 5xx or is not there. Reporting never changes the exit
// code, costs at most kubernetes.timeout, leaves one warning line, and the Running report never delays the first
// task. Time bounds are asserted with generous margins (2 shared cores); the real figures are printed.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { taskList } from '../helpers/cli.js';
import { handoffNode, journal, oursOn, requestsOf, warnings, type HandoffNode } from '../helpers/handoff-node.js';

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());
t.afterEach(() => api.mode('ok'));

const MARGIN_MS = 2500;

async function waitFor(what: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
const exists = (p: string) => stat(p).then(() => true, () => false);

/** Starts the run, waits for `ready`, sends SIGTERM, and times the exit. */
async function termWhen(h: HandoffNode, ready: () => boolean | Promise<boolean>) {
  let pid = 0;
  const running = h.run({ onSpawn: (p) => (pid = p) });
  await waitFor(ready);
  const sent = Date.now();
  process.kill(pid, 'SIGTERM');
  const r = await running;
  return { r, ms: Date.now() - sent };
}

t.test('SIGTERM during the tasks: False/Stopped is reported within 5 s, exit 1', async (t) => {
  const h = await handoffNode(t, api);
  const started = join(h.dir, 'started');
  await h.task('10.yaml', taskList(`  - { name: long, script: "touch ${started}; sleep 60" }\n  - { name: never, exec: { command: /bin/true } }\n`));
  const { r, ms } = await termWhen(h, () => exists(started));
  t.comment(`exited ${ms} ms after SIGTERM`);
  t.ok(ms < 5000 + MARGIN_MS, `exited within 5 s of SIGTERM (${ms} ms)`);
  t.equal(r.code, 1);
  t.match(oursOn(api, h.node), [{ status: 'False', reason: 'Stopped', message: /^the run was stopped: stopped by SIGTERM during task "long"/ }]);
  t.equal(api.node(h.node).metadata.labels['postjoin.io/result'], 'failed');
  t.match(JSON.parse((await h.status(true)).stdout), { result: 'failed', report: { made: true, reason: 'Stopped' } });
});

t.test('SIGTERM while the final report hangs: the report is cut 5 s after the signal, the run keeps its exit code', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 2m' });
  const done = join(h.dir, 'done');
  await h.task('10.yaml', taskList(`  - { name: a, script: "touch ${done}" }\n`));
  await api.mode('hang');
  // Running hangs on its GET; the final report drops it after 2 s and sends its own GET, which hangs too.
  const { r, ms } = await termWhen(h, async () => (await exists(done)) && requestsOf(api, h.node).length >= 2);
  t.comment(`exited ${ms} ms after SIGTERM`);
  t.ok(ms < 5000 + MARGIN_MS, `exited within 5 s of SIGTERM, not at kubernetes.timeout (2m): ${ms} ms`);
  t.ok(ms > 4000, `but it gave the report its 5 s (${ms} ms)`);
  t.equal(r.code, 0, 'the tasks succeeded: exit 0');
  t.match(
    warnings(r).filter((w) => w.startsWith('received SIGTERM')),
    [/^received SIGTERM while reporting the result to the Node; the result is already saved: ending the report$/],
    'the signal line says what it stops: the report, not a task (none is running)',
  );
  t.match(
    warnings(r).filter((w) => !w.startsWith('received SIGTERM')),
    [/^could not report to Node .*the 5s allowed after the stop signal passed.*the run's result and exit code are unchanged; it stays pending in state\.json, and postjoin report sends it \(postjoin-report\.service tries again\)$/],
    'one warning about the report',
  );
  t.match(JSON.parse((await h.status(true)).stdout), { result: 'succeeded', report: { made: false, reason: 'Succeeded', error: /5s allowed after the stop signal/ } });
});

t.test('a hanging API server costs at most kubernetes.timeout, against the same run with reporting off', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 3s' });
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n  - { name: b, script: "sleep 0.5" }\n'));
  const timed = async () => {
    const s = Date.now();
    const r = await h.run();
    return { r, ms: Date.now() - s };
  };
  await h.configure({ kubernetes: 'enabled: false' });
  const off = await timed();
  t.equal(off.r.code, 0);
  await h.configure({ kubernetes: 'timeout: 3s' });
  await api.mode('hang');
  const hung = await timed();
  t.equal(hung.r.code, 0, 'exit code unchanged');
  t.comment(`reporting off: ${off.ms} ms; server hanging, timeout 3s: ${hung.ms} ms (+${hung.ms - off.ms} ms)`);
  t.ok(hung.ms - off.ms < 3000 + MARGIN_MS, `the hang added ${hung.ms - off.ms} ms, at most kubernetes.timeout (3 s) and a margin`);
  t.equal(warnings(hung.r).length, 1, 'one warning line');
  // Two clocks end together here, the request's own (cut to what is left of the budget) and the budget's: either
  // the budget drops the request ("kubernetes.timeout (3s) passed") or the request times out with nothing left to
  // retry in ("no time left to retry within kubernetes.timeout"). Both say the budget ran out; which one is a race.
  t.match(warnings(hung.r)[0], /^could not report to Node .*(kubernetes\.timeout \(3s\) passed|no answer within \S+; no time left to retry within kubernetes\.timeout)/);
  t.ok(requestsOf(api, h.node).some((q) => q.status === 0), 'requests were left unanswered: the hang was real');
});

t.test('the Running report never delays the first task: with the server hanging, the first task starts right after readiness', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 8s' });
  await h.task('10.yaml', taskList('  - { name: first, exec: { command: /bin/true } }\n'));
  await api.mode('hang');
  const r = await h.run();
  t.equal(r.code, 0);
  const lines = journal(r);
  const time = (re: RegExp) => Date.parse(String(lines.find((l) => re.test(String(l.msg)))?.time));
  const gap = time(/^task first \(1\/1\): started/) - time(/^node is ready after/);
  t.comment(`first task started ${gap} ms after readiness; the Running request hung until the final report dropped it`);
  t.ok(gap < 2000, `the first task started ${gap} ms after readiness, not after the Running request (timeout 8 s)`);
  t.ok(requestsOf(api, h.node).length >= 1 && requestsOf(api, h.node)[0]!.status === 0, 'the Running request was sent and never answered');
});

for (const fault of ['5xx', 'closed'] as const) {
  t.test(`an API server that ${fault === '5xx' ? 'answers 503' : 'is not listening'}: the exit code stays the run's, one warning line`, async (t) => {
    const h = await handoffNode(t, api, { kubernetes: 'timeout: 2s' });
    await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
    await api.mode(fault, { status: 503 });
    const ok = await h.run();
    t.equal(ok.code, 0, 'a run that succeeded exits 0');
    t.equal(warnings(ok).length, 1, 'one warning line');
    t.match(warnings(ok)[0], new RegExp(`^could not report to Node ${h.node.replace(/\./g, '\\.')}: condition postjoin\\.io/Ready=True/Succeeded: .*${fault === '5xx' ? '503' : 'connection refused'}.*the run's result and exit code are unchanged; it stays pending in state\\.json, and postjoin report sends it \\(postjoin-report\\.service tries again\\)$`));
    t.match(JSON.parse((await h.status(true)).stdout), { result: 'succeeded', report: { made: false } });
    t.match((await h.status()).stdout, /^report: +pending since \S+: postjoin\.io\/Ready=True\/Succeeded on Node /m);
    await h.task('20.yaml', taskList('  - { name: b, exec: { command: /bin/false } }\n'));
    const failed = await h.run();
    t.equal(failed.code, 1, 'a run whose task failed exits 1');
    t.equal(warnings(failed).filter((w) => /could not report/.test(w)).length, 1);
    t.same(oursOn(api, h.node), [], 'nothing reached the Node');
  });
}

t.test('state.json is written before the final report: a report that hangs never holds up the recorded result', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 1m' });
  const done = join(h.dir, 'done');
  await h.task('10.yaml', taskList(`  - { name: a, script: "touch ${done}" }\n`));
  await api.mode('hang');
  let pid = 0;
  const running = h.run({ onSpawn: (p) => (pid = p) });
  await waitFor(async () => (await exists(done)) && requestsOf(api, h.node).length >= 2);
  const state = JSON.parse(await readFile(join(h.stateDir, 'state.json'), 'utf8'));
  t.match(state, { result: 'succeeded', exitCode: 0 }, 'the result is on disk while the report is still trying');
  process.kill(pid, 'SIGTERM');
  t.equal((await running).code, 0);
});
