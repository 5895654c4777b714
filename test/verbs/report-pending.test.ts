// A final report that could not be made is kept pending in state.json, and `postjoin report` (the real bundle, as
// the unit and an SRE run it) delivers it later against the Kubernetes API stand-in: the condition, the label and
// the event, once; exit 0 when made or nothing is pending, 1 when the server is still down (the try recorded).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { readBootId } from '../../src/host/files/instance-identity.js';
import { acquireRunLock } from '../../src/state/run-lock.js';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { logLines, runCli, taskList, type CliResult } from '../helpers/cli.js';
import { eventsOn, handoffNode, oursOn, requestsOf, type HandoffNode } from '../helpers/handoff-node.js';

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());
t.afterEach(() => api.mode('ok'));

const report = (h: HandoffNode, ...more: string[]) => runCli(['report', '--config', h.configPath, '--state-dir', h.stateDir, ...more], { timeoutMs: 120_000 });
const stateOf = async (h: HandoffNode) => JSON.parse(await readFile(join(h.stateDir, 'state.json'), 'utf8'));
/** The lines `report` logged (pino JSON on stderr). */
const logs = (r: CliResult) => logLines(r.stderr);
const messages = (r: CliResult) => logs(r).map((l) => String(l.msg));
const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

t.test('API server down for the whole final report: pending in state.json, then postjoin report delivers it once, when the server is back', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 2s' });
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  await api.mode('closed');
  const r = await h.run();
  t.equal(r.code, 0, 'the run exits with its tasks\' result');

  const state = await stateOf(h);
  t.match(state.report, {
    made: false,
    node: h.node,
    condition: 'postjoin.io/Ready',
    status: 'True',
    reason: 'Succeeded',
    message: 'all tasks done: 1 succeeded',
    label: { key: 'postjoin.io/result', value: 'succeeded' },
    event: { type: 'Normal', reason: 'PostjoinSucceeded' },
    endedAt: state.finishedAt,
    missing: ['condition', 'label', 'event'],
    pendingSince: state.report.at,
    tries: 1,
    error: /connection refused/,
  });
  const status = await h.status();
  t.equal(status.code, 0, 'status exits with the run\'s result');
  t.match(status.stdout, new RegExp(`^report: +pending since ${re(state.report.at)}: postjoin\\.io/Ready=True/Succeeded on Node ${re(h.node)}; not on the Node yet: condition, label, event; 1 try, the last at \\S+: .*connection refused`, 'm'));

  const down = await report(h);
  t.equal(down.code, 1, 'still down: exit 1');
  t.match(messages(down), [/^could not report to Node .* \(try 2, pending since .*\): condition postjoin\.io\/Ready=True\/Succeeded: .*connection refused/]);
  const afterDown = (await stateOf(h)).report;
  t.match(afterDown, { made: false, tries: 2, pendingSince: state.report.pendingSince, missing: ['condition', 'label', 'event'] }, 'the try is recorded');
  t.not(afterDown.at, state.report.at, 'with its own time');
  t.same(oursOn(api, h.node), [], 'nothing reached the Node');

  await api.mode('ok');
  const up = await report(h);
  t.equal(up.code, 0, `delivered: exit 0 ${up.stderr}`);
  t.match(messages(up), [new RegExp(`^reported postjoin\\.io/Ready=True/Succeeded, label postjoin\\.io/result=succeeded, event PostjoinSucceeded to Node ${re(h.node)} \\(try 3, pending since `)]);
  t.match(oursOn(api, h.node), [{ status: 'True', reason: 'Succeeded', message: 'all tasks done: 1 succeeded' }]);
  t.equal(api.node(h.node).metadata.labels['postjoin.io/result'], 'succeeded');
  const events = eventsOn(api, h.node);
  t.match(events, [{ type: 'Normal', reason: 'PostjoinSucceeded', note: 'all tasks done: 1 succeeded' }], 'one event');
  t.ok(JSON.stringify(events[0]).includes(state.finishedAt.slice(0, 19)), 'the event carries the time the run ended, not the time it was delivered');
  const made = (await stateOf(h)).report;
  t.match(made, { made: true, missing: [], tries: 3, pendingSince: state.report.pendingSince });
  t.notOk('error' in made, 'no error left');
  t.match((await h.status()).stdout, new RegExp(`^report: +made at ${re(made.at)}: postjoin\\.io/Ready=True/Succeeded on Node ${re(h.node)} \\(try 3, pending since ${re(state.report.at)}\\)$`, 'm'));
  t.match(up.stdout, /^made: postjoin\.io\/Ready=True\/Succeeded on Node /);

  const sent = requestsOf(api, h.node).length;
  const again = await report(h);
  t.equal(again.code, 0, 'again: nothing pending, exit 0');
  t.match(messages(again), [/^nothing to report: the last run's report to Node .* was made at /]);
  t.equal(requestsOf(api, h.node).length, sent, 'no request at all');
  t.equal(eventsOn(api, h.node).length, 1, 'no second event');
  const json = await report(h, '--output', 'json');
  t.match(JSON.parse(json.stdout), { result: 'nothing', message: /^nothing to report: /, report: { made: true, tries: 3 } }, '--output json: pure JSON on stdout');
});

t.test('the condition made but the label refused: only the label is pending, and report sends only the label', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 2s' });
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/false } }\n'));
  // The main resource (the label) fails; nodes/NAME/status (the condition) and events pass.
  api.failWhere((q) => q.method === 'PATCH' && /^\/api\/v1\/nodes\/[^/]+$/.test(q.path), 503);
  const r = await h.run();
  t.equal(r.code, 1);
  t.match(oursOn(api, h.node), [{ status: 'False', reason: 'TaskFailed' }], 'the condition is on the Node');
  t.notOk(api.node(h.node).metadata.labels['postjoin.io/result'], 'the label is not');
  t.equal(eventsOn(api, h.node).length, 1, 'the event is');
  t.match((await stateOf(h)).report, { made: false, missing: ['label'], error: /label postjoin\.io\/result=failed: .*503/ });
  t.match((await h.status()).stdout, /^report: +pending since \S+: postjoin\.io\/Ready=False\/TaskFailed on Node \S+; not on the Node yet: label; 1 try/m);

  await api.mode('ok');
  const sent = requestsOf(api, h.node).length;
  const up = await report(h);
  t.equal(up.code, 0, up.stderr);
  t.equal(api.node(h.node).metadata.labels['postjoin.io/result'], 'failed');
  const mine = requestsOf(api, h.node).slice(sent).map((q) => `${q.method} ${q.path.replace(h.node, 'NODE')}`);
  t.same(mine, ['GET /api/v1/nodes/NODE', 'PATCH /api/v1/nodes/NODE'], 'the Node read, the label written; no condition write, no second event');
  t.equal(eventsOn(api, h.node).length, 1);
  t.match((await stateOf(h)).report, { made: true, missing: [], tries: 2 });
});

t.test('a newer run replaces a pending outcome: it reports its own, and nothing is left for report', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 2s' });
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  await api.mode('closed');
  t.equal((await h.run()).code, 0);
  t.match((await stateOf(h)).report, { made: false });
  await api.mode('ok');
  await h.task('20.yaml', taskList('  - { name: b, exec: { command: /bin/false } }\n'));
  t.equal((await h.run()).code, 1);
  t.match((await stateOf(h)).report, { made: true, reason: 'TaskFailed', tries: 1 });
  const sent = requestsOf(api, h.node).length;
  const r = await report(h);
  t.equal(r.code, 0);
  t.equal(requestsOf(api, h.node).length, sent, 'no request');
  t.match(oursOn(api, h.node), [{ reason: 'TaskFailed' }]);
  t.match(eventsOn(api, h.node), [{ reason: 'PostjoinTaskFailed' }], 'the older outcome never reaches the Node');
});

t.test('nothing pending: exit 0 at once, without the network, with no state at all or a state from a run without reporting', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'enabled: false' });
  const none = await report(h);
  t.equal(none.code, 0);
  t.match(messages(none), [/^nothing to report: no run recorded in /]);
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  t.equal((await h.run()).code, 0);
  const off = await report(h);
  t.equal(off.code, 0);
  t.match(messages(off), [/^nothing to report: the last run \(started \S+\) did not report to a Node/]);
  t.same(requestsOf(api, h.node), [], 'no request at all');
});

t.test('kubernetes.enabled: false now: the pending outcome is not sent, and stays pending; exit 0', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 2s' });
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  await api.mode('closed');
  t.equal((await h.run()).code, 0);
  await api.mode('ok');
  await h.configure({ kubernetes: 'enabled: false' });
  const r = await report(h);
  t.equal(r.code, 0);
  t.match(messages(r), [/^not reporting: kubernetes\.enabled is false in .*; the outcome stays pending in state\.json/]);
  t.same(oursOn(api, h.node), []);
  t.match((await stateOf(h)).report, { made: false, tries: 1 });
});

t.test('a run holding the lock: report does not touch the state and exits 1, naming it; a run meets a report the same way', async (t) => {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 2s' });
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  await api.mode('closed');
  t.equal((await h.run()).code, 0);
  const before = await readFile(join(h.stateDir, 'state.json'), 'utf8');
  await api.mode('ok');
  const bootId = await readBootId();
  const held = await acquireRunLock(h.stateDir, bootId);
  const r = await report(h).finally(() => held.release());
  t.equal(r.code, 1);
  t.match(messages(r), [new RegExp(`^not reported this time: another postjoin run \\(pid ${process.pid}\\) is in progress`)]);
  t.equal(await readFile(join(h.stateDir, 'state.json'), 'utf8'), before, 'state.json untouched');
  t.same(oursOn(api, h.node), []);

  const byReport = await acquireRunLock(h.stateDir, bootId, 'report');
  const run = await h.run().finally(() => byReport.release());
  t.equal(run.code, 2);
  t.match(logLines(run.stdout).map((l) => String(l.msg)).join('\n'), new RegExp(`another postjoin report \\(pid ${process.pid}\\) is in progress`));
});

t.test('a corrupt state file: exit 1 at once, saying so; the file is left for run to move aside', async (t) => {
  const h = await handoffNode(t, api);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(h.stateDir, { recursive: true });
  await writeFile(join(h.stateDir, 'state.json'), '{"version": 1, "res');
  const r = await report(h);
  t.equal(r.code, 1);
  t.match(messages(r), [/^cannot report: the state file .*state\.json is unreadable: not valid JSON/]);
  t.equal(await readFile(join(h.stateDir, 'state.json'), 'utf8'), '{"version": 1, "res');
  const json = await report(h, '--output', 'json');
  t.equal(json.code, 1);
  t.match(JSON.parse(json.stdout), { result: 'error', message: /^cannot report: /, report: null });
});

t.test('a pending report written by an older postjoin (no message to send): not sent, exit 0, saying why', async (t) => {
  const h = await handoffNode(t, api);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(h.stateDir, { recursive: true });
  const old = {
    version: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:05.000Z',
    result: 'succeeded',
    exitCode: 0,
    tasks: [],
    done: {},
    report: { made: false, at: '2026-01-01T00:00:35.000Z', node: h.node, condition: 'postjoin.io/Ready', status: 'True', reason: 'Succeeded', error: 'connection refused' },
  };
  await writeFile(join(h.stateDir, 'state.json'), JSON.stringify(old));
  const r = await report(h);
  t.equal(r.code, 0);
  t.match(messages(r), [/^nothing to report: the last run's report was not made, but was written by an older postjoin without what it would send; the next run reports again$/]);
  t.same(requestsOf(api, h.node), []);
});

t.test('report --help: what it does, its flags and its own exit codes', async (t) => {
  const r = await runCli(['report', '--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^Usage: postjoin report \[--retry-for DURATION \[--retry-delay DURATION\]\]/);
  t.match(r.stdout, /--retry-for\n {2}--retry-delay\n/);
  t.match(r.stdout, /Exit codes:\n {2}0 {2}the Node has the last run's outcome .*\n {2}1 {2}it still could not be sent .*\n {2}2 {2}invalid input: usage or config\n$/);
  t.notMatch(r.stdout, /readiness was not reached/, "not run's exit codes");
});
