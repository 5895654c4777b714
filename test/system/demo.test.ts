// `npm start` is the README's first command: scripts/build-demo.mjs bundles the simulated node (IMDS, kubelet,
// Kubernetes API stand-in, a simulated node-readiness-controller) and scripts/demo.mjs runs the built bundle on a copy
// of examples/demo twice: a first boot whose True takes the startup taint off, and a reboot during which the API
// server goes down as the result is reported, delivered later by `postjoin report`. A newcomer's first impression,
// so it is checked like any other output.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/cli.js';

t.test('npm start: the node, the plan, a first boot that frees the node, a reboot whose report is delivered late, the status', async (t) => {
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build-demo.mjs')], { encoding: 'utf8', timeout: 60_000 });
  t.equal(built.status, 0, built.stderr);
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/demo.mjs')], { encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '' }, timeout: 90_000 });
  t.comment(`the demo took ${Date.now() - started} ms`);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '', 'nothing on stderr');
  const out = r.stdout;
  const scenes = out.split(/^\$ /m);
  t.equal(scenes.length, 11, 'the intro and ten commands');
  const [intro = '', before = '', plan = '', first = '', after = '', second = '', pending = '', stuck = '', report = '', delivered = '', status = ''] = scenes;
  t.match(intro, /^A simulated EKS node, all on 127\.0\.0\.1:\n  IMDS http:\/\/127\.0\.0\.1:\d+: /, 'no 169.254.169.254: IMDS is the emulator');
  t.match(intro, /simulated node-readiness-controller/, 'the controller is said to be simulated');
  const work = /the agent runs on a copy of examples\/demo in (\S+)/.exec(intro)?.[1];
  t.ok(work && !work.startsWith('/tmp/postjoin-demo/'), 'each demo has a work dir of its own: two demos at once never meet');

  t.match(before, /^kubectl describe node ip-10-0-1-23\.us-west-2\.compute\.internal .*before the first boot/);
  t.match(before, /Taints: +readiness\.k8s\.io\/postjoin=pending:NoSchedule/);
  t.notMatch(before, /postjoin\.io\/Ready|postjoin\.io\/result/, 'no postjoin condition or label yet');
  t.match(before, /Events: +<none>/);

  t.match(plan, /^postjoin plan --config /, 'then the plan');
  t.match(plan, /write-agent-config\s+file\s+yes/);
  t.match(plan, /file:\S+\/demo\/tasks\.d\/10-node-basics\.yaml#tasks\[0\]/, "with each task's origin");
  t.match(plan, /node-facts\s+script\s+no\s+\S+\s+userdata:part\[1\]#tasks\[0\]/, 'a task from the user data');
  t.match(plan, /90-agent-config-written\s+wait\s+yes\s+\S+\s+tag:postjoin:90-agent-config-written/, 'a task from an instance tag');

  t.match(first, /readiness: kubelet healthz: HTTP 503 .*\n.*readiness: kubelet healthz: ok\n.*node is ready after 1s/, 'the gate visibly waits for the kubelet');
  t.match(first, /reported postjoin\.io\/Ready=False\/Running to Node ip-10-0-1-23/);
  t.match(first, /\[node-facts stdout\] ip-10-0-1-23\.us-west-2\.compute\.internal: m5\.large in us-west-2a, cluster demo-cluster/, 'the task context env');
  t.match(first, /flaky-download\] task flaky-download \(5\/7\): attempt 1\/4 failed: .*retrying in/, 'a retry is shown');
  t.match(first, /run succeeded: 9 succeeded in .*\n.*reported postjoin\.io\/Ready=True\/Succeeded to Node ip-10-0-1-23/, 'first boot: every task, then the report');

  t.match(after, /after the first boot/);
  t.match(after, /Labels: +postjoin\.io\/handoff=true, postjoin\.io\/result=succeeded/);
  t.match(after, /Ready +True +KubeletReady/, "the kubelet's own Ready is still there");
  t.match(after, /postjoin\.io\/Ready +True +Succeeded +all tasks done: 9 succeeded/);
  t.match(after, /Normal +PostjoinSucceeded +postjoin\.io\/postjoin +all tasks done: 9 succeeded/, 'the core/v1 event, as kubectl describe node lists it');
  t.match(after, /Taints: +<none>/, 'the taint is off once the condition is True');
  t.match(after, /Annotations: +readiness\.k8s\.io\/bootstrap-completed-/, 'bootstrap-only records completion');
  t.match(after, /\(simulated node-readiness-controller, [\d:.]+: postjoin\.io\/Ready=True: removed the taint readiness\.k8s\.io\/postjoin/);

  t.match(second, /node is ready after 1s/, 'the reboot waits for the kubelet again');
  t.match(second, /run succeeded: 2 succeeded, 7 skipped-done in /, 'the reboot skips the once tasks');
  t.match(second, /already done on this instance with this content; skipped/);
  t.match(second, /warn +could not report to Node ip-10-0-1-23\S+: condition postjoin\.io\/Ready=True\/Succeeded: .*; it stays pending in state\.json, and postjoin report sends it/, 'the API server went down: one warning');
  t.match(second, /exit code 0/, 'the exit code is unchanged');

  t.match(pending, /^report: +pending since \S+: postjoin\.io\/Ready=True\/Succeeded on Node ip-10-0-1-23\S+; not on the Node yet: condition, label, event; 1 try/m, 'status says the report is pending');
  t.match(stuck, /postjoin\.io\/Ready +False +Running/, 'without postjoin report the Node would say Running');
  t.match(stuck, /Taints: +<none>/, 'bootstrap-only: the reboot did not taint the serving node again');
  t.match(report, /^postjoin report --config \S+ --state-dir \S+/);
  t.match(report, /^made: postjoin\.io\/Ready=True\/Succeeded on Node ip-10-0-1-23/m);
  t.match(delivered, /postjoin\.io\/Ready +True +Succeeded +all tasks done: 2 succeeded, 7 skipped-done/, 'delivered late');
  t.equal((delivered.match(/Normal +PostjoinSucceeded/g) ?? []).length, 2, "one event per run's result");

  t.match(status, /result:\s+succeeded \(exit 0\)/);
  t.match(status, /^report: +made at \S+: postjoin\.io\/Ready=True\/Succeeded on Node ip-10-0-1-23\.us-west-2\.compute\.internal \(try 2, pending since \S+\)$/m);
  t.match(status, /flaky-download\s+script\s+succeeded\s+2\s/, 'status shows the attempts');
  t.equal((out.match(/exit code 0/g) ?? []).length, 2);
});
