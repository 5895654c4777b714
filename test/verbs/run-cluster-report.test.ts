// `postjoin run` (the real bundle, as the unit runs it) reports to its Node in the Kubernetes API stand-in: after
// readiness False/Running, then True/Succeeded or False/TaskFailed with the label and one event; every boot
// reports again; the kubelet's conditions survive and no taint write or merge patch of conditions is ever sent;
// lastTransitionTime moves only with the status; `postjoin status` shows whether the report was made.
import { rm, writeFile } from 'node:fs/promises';
import t, { type Test } from 'tap';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { removeDir, requireReal, run, tempDir, which } from '../harness/index.js';
import { taskList } from '../helpers/cli.js';
import { eventsOn, handoffNode, journal, kubeletConditions, oursOn, reportLines, requestsOf, runWithLateKubeconfig, STARTUP_TAINT, warnings } from '../helpers/handoff-node.js';

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());

/** What the node's identity sent must never wipe the kubelet's conditions or touch taints. */
function checkWrites(t: Test, node: string): void {
  const writes = requestsOf(api, node).filter((r) => r.method === 'PATCH' || r.method === 'PUT');
  t.ok(writes.length > 0, 'the run wrote to its Node');
  for (const w of writes) {
    t.equal(w.contentType, 'application/strategic-merge-patch+json', `${w.method} ${w.path}: a strategic merge patch, never a JSON merge patch or JSON patch`);
    t.notMatch(JSON.stringify(w.body), /taints/, `${w.method} ${w.path}: no taint in it`);
  }
}

t.test('a run that succeeds: Running after readiness, then True/Succeeded, label succeeded, a Normal event; the kubelet\'s conditions and the taint untouched', async (t) => {
  const h = await handoffNode(t, api);
  await h.task('10.yaml', taskList('  - { name: first, exec: { command: /bin/true } }\n  - { name: second, script: "echo hello" }\n'));
  const before = kubeletConditions(api, h.node);
  const r = await h.run();
  t.equal(r.code, 0, r.stdout.slice(-3000));
  t.match(oursOn(api, h.node), [{ status: 'True', reason: 'Succeeded', message: 'all tasks done: 2 succeeded' }], 'exactly one postjoin condition');
  t.same(kubeletConditions(api, h.node), before, "the kubelet's four conditions are as they were");
  t.same(api.node(h.node).spec.taints, [STARTUP_TAINT], 'the startup taint is the controller\'s to remove');
  t.equal(api.node(h.node).metadata.labels['postjoin.io/result'], 'succeeded');
  t.match(eventsOn(api, h.node), [{ type: 'Normal', reason: 'PostjoinSucceeded', note: 'all tasks done: 2 succeeded', regarding: { kind: 'Node', name: h.node } }]);
  checkWrites(t, h.node);
  // The order in the journal: ready, Running (beside the first task), the tasks, the final report after the summary.
  const msgs = journal(r).map((l) => String(l.msg));
  const at = (re: RegExp) => msgs.findIndex((m) => re.test(m));
  t.ok(at(/^node is ready after/) >= 0 && at(/^node is ready after/) < at(/^task first \(1\/2\): started/), 'readiness before the first task');
  t.ok(at(/^reported postjoin\.io\/Ready=False\/Running to Node/) > at(/^node is ready after/), 'Running reported after readiness');
  t.ok(at(/^reported postjoin\.io\/Ready=True\/Succeeded to Node/) > at(/^run succeeded/), 'the final report after the run summary');
  t.same(warnings(r), [], 'no warning');
  const statusPatches = requestsOf(api, h.node).filter((q) => q.method === 'PATCH' && q.path.endsWith('/status'));
  t.match(statusPatches.map((q) => (q.body as any).status.conditions[0].reason), ['Running', 'Succeeded'], 'two condition writes: Running, then the result');
  t.match(reportLines(r).at(-1), { node: h.node, duration_ms: Number });
});

t.test('a failed task: False/TaskFailed naming the task, its source and error; label failed; a Warning event naming the task; exit 1', async (t) => {
  const h = await handoffNode(t, api);
  const file = await h.task('10-prepull.yaml', taskList('  - { name: ok, exec: { command: /bin/true } }\n  - { name: prepull, script: "echo registry unreachable >&2; exit 3" }\n  - { name: later, exec: { command: /bin/true } }\n'));
  const r = await h.run();
  t.equal(r.code, 1, 'the exit code is the run\'s');
  t.match(oursOn(api, h.node), [{ status: 'False', reason: 'TaskFailed' }]);
  t.equal(oursOn(api, h.node)[0]?.message, `task "prepull" (file:${file}#tasks[1]) failed: script exited with code 3: registry unreachable`, 'the task, its source and its error');
  t.equal(api.node(h.node).metadata.labels['postjoin.io/result'], 'failed');
  const events = eventsOn(api, h.node);
  t.equal(events.length, 1, 'one event');
  t.match(events[0], { type: 'Warning', reason: 'PostjoinTaskFailed', note: /task "prepull"/ });
  t.equal(kubeletConditions(api, h.node).length, 4);
  checkWrites(t, h.node);
});

t.test('every boot reports again; lastTransitionTime is kept while the result stays, and moves when it changes', async (t) => {
  const h = await handoffNode(t, api);
  await h.task('10.yaml', taskList('  - { name: setup, exec: { command: /bin/true } }\n'));
  await h.task('20.yaml', taskList(`  - { name: gate, once: false, script: "test -e ${h.dir}/fixed" }\n`));
  t.equal((await h.run()).code, 1, 'boot 1 fails');
  const [first] = oursOn(api, h.node);
  t.match(first, { status: 'False', reason: 'TaskFailed' });
  await new Promise((r) => setTimeout(r, 1100)); // the times have whole seconds
  const second = await h.run();
  t.equal(second.code, 1, 'boot 2 fails the same way');
  t.ok(journal(second).some((l) => /task setup .*already done on this instance/.test(String(l.msg))), 'the once task was skipped');
  const [again] = oursOn(api, h.node);
  t.match(again, { status: 'False', reason: 'TaskFailed' });
  t.equal(again.lastTransitionTime, first.lastTransitionTime, 'False -> False/Running -> False: lastTransitionTime kept');
  t.not(again.lastHeartbeatTime, first.lastHeartbeatTime, 'but the condition was written again');
  t.equal(requestsOf(api, h.node).filter((q) => q.method === 'PATCH' && q.path.endsWith('/status')).length, 4, 'each boot wrote Running and its result');
  t.equal(eventsOn(api, h.node).length, 2, 'one event per boot');
  await new Promise((r) => setTimeout(r, 1100));
  await writeFile(`${h.dir}/fixed`, '');
  t.equal((await h.run()).code, 0, 'boot 3 succeeds');
  const [fixed] = oursOn(api, h.node);
  t.match(fixed, { status: 'True', reason: 'Succeeded' });
  t.not(fixed.lastTransitionTime, first.lastTransitionTime, 'False -> True: lastTransitionTime moves');
  t.equal(api.node(h.node).metadata.labels['postjoin.io/result'], 'succeeded', 'the label follows the result');
});

t.test('postjoin status shows the report, in text and JSON', async (t) => {
  const h = await handoffNode(t, api);
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  t.equal((await h.run()).code, 0);
  const text = await h.status();
  t.match(text.stdout, new RegExp(`^report: +made at \\S+: postjoin\\.io/Ready=True/Succeeded on Node ${h.node.replace(/\./g, '\\.')}$`, 'm'));
  const json = JSON.parse((await h.status(true)).stdout);
  t.match(json.report, { made: true, node: h.node, condition: 'postjoin.io/Ready', status: 'True', reason: 'Succeeded', durationMs: Number, at: /^\d{4}-/ });
  t.notOk(json.report.error);
});

t.test("the real kubectl shows the run's event as it shows the kubelet's: describe node, get events", async (t) => {
  if (!(await requireReal(t, 'kubectl', async () => !!(await which('kubectl')), 'apt-get install -y kubectl (pkgs.k8s.io)'))) return;
  const h = await handoffNode(t, api);
  await h.task('10.yaml', taskList('  - { name: prepull, script: "echo registry unreachable >&2; exit 3" }\n'));
  t.equal((await h.run()).code, 1);
  const home = await tempDir('kubectl');
  t.teardown(() => removeDir(home));
  const admin = await api.writeKubeconfig({ user: 'admin' });
  const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', admin, ...args], { env: { ...process.env, HOME: home, KUBECONFIG: admin }, timeoutMs: 30_000 });
  const post = requestsOf(api, h.node).find((q) => q.method === 'POST');
  t.match(post, { path: '/api/v1/namespaces/default/events', status: 201 }, 'a core/v1 event, accepted');
  const name = `${h.node}.`;
  t.ok((post?.body as any).metadata.name.startsWith(name), '<node>.<hex nanoseconds>, as the kubelet names its events');

  const describe = await kubectl('describe', 'node', h.node);
  t.equal(describe.code, 0, describe.stderr);
  const events = describe.stdout.slice(describe.stdout.indexOf('\nEvents:'));
  t.match(events, /^ {2}Type +Reason +Age +From +Message$/m);
  t.match(events, new RegExp(`^ {2}Warning +PostjoinTaskFailed +\\d+s +postjoin\\.io/postjoin +task "prepull" \\(file:\\S+#tasks\\[0\\]\\) failed: script exited with code 3: registry unreachable$`, 'm'));

  const list = await kubectl('get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${h.node}`, '-o', 'wide');
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, new RegExp(`Warning +PostjoinTaskFailed +node/${h.node.replace(/\./g, '\\.')} +postjoin\\.io/postjoin, ${h.node.replace(/\./g, '\\.')} +task "prepull"`));
});

t.test('enabled: auto is decided when reporting: a kubelet that bootstraps TLS writes its kubeconfig late, and the run still reports', async (t) => {
  const h = await handoffNode(t, api);
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  // Not there when the run starts: the kubelet writes it once its CSR is approved, before its healthz answers ok.
  const late = await runWithLateKubeconfig(h);
  t.equal(requestsOf(api, h.node).length, 0, 'nothing sent while the kubeconfig did not exist');
  await late.writeKubeconfig();
  const r = await late.running;
  t.equal(r.code, 0, r.stdout.slice(-2000));
  t.match(oursOn(api, h.node), [{ status: 'True', reason: 'Succeeded' }], 'reported');
  t.equal(eventsOn(api, h.node).length, 1);
  t.match(reportLines(r).map((l) => l.msg), [/^reported postjoin\.io\/Ready=False\/Running/, /^reported postjoin\.io\/Ready=True\/Succeeded/]);
});

t.test('enabled: auto without the kubeconfig at the end: not reported, and the journal says why at info level', async (t) => {
  const h = await handoffNode(t, api);
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  await rm(h.kubeconfig);
  const r = await h.run();
  t.equal(r.code, 0);
  t.equal(requestsOf(api, h.node).length, 0, 'no request');
  const why = `kubernetes.enabled is auto and ${h.kubeconfig} does not exist (a kubelet that bootstraps TLS writes it once its CSR is approved)`;
  t.same(
    journal(r).filter((l) => String(l.msg).startsWith('not reporting')).map((l) => [l.level, l.msg]),
    [
      ['info', `not reporting Running to Node ${h.node}: ${why}; the final report looks again`],
      ['info', `not reporting to the Node: ${why}`],
    ],
    'after readiness and at the end, at info level, with the reason',
  );
  t.same(warnings(r), []);
  t.notOk(JSON.parse((await h.status(true)).stdout).report, 'no report record: reporting was off');
});
