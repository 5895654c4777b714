// The proof under a real systemd (252, Debian bookworm) in systemd-nspawn: the shipped unit installed by
// packaging/install.sh, ordered after a stub nodeadm-run, gated on a stub kubelet's healthz, containerd's CRI
// and the units' D-Bus state; its Status: line, its journal priorities, unit and wait tasks against real
// units, a failing essential task, and a reboot over the same state dir.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { requireReal, requireRootAndBins, type TestLike } from '../harness/require-real.js';
import { defaultRootfs, rootfsReady, type Container } from '../harness/nspawn.js';
import { waitFor } from '../harness/proc.js';
import { bootNode, journalEntries, nodeConfig, nodeDirs, usOf, type JournalEntry } from '../helpers/nspawn-node.js';

const H = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n';

const units = {
  // A plain service a unit task starts; it says when it is up.
  'demo-agent.service': '[Unit]\nDescription=demo agent (test)\n[Service]\nExecStart=/bin/sh -c "touch /run/demo-agent.ready; exec sleep infinity"\n',
  // A unit with an [Install] section for enable-now.
  'demo-enabled.service': '[Unit]\nDescription=demo enabled (test)\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
};

const nodeTasks = `${H}  - { name: stamp, exec: { command: /bin/sh, args: [-c, "date +%s%6N > /var/lib/postjoin/first-task-at"] } }
  - { name: start-agent, unit: { name: demo-agent.service, action: start } }
  - { name: enable-demo, unit: { name: demo-enabled.service, action: enable-now } }
  - { name: agent-active, wait: { unit: demo-agent.service } }
  - { name: agent-ready, wait: { file: /run/demo-agent.ready } }
  - { name: kubelet-up, wait: { url: "http://127.0.0.1:10248/healthz" } }
  - { name: every-boot, once: false, exec: { command: /bin/sh, args: [-c, "echo boot >> /var/lib/postjoin/boots"] } }
`;

const msgOf = (e: JournalEntry) => {
  try {
    return String((JSON.parse(String(e.MESSAGE).replace(/^<\d>/, '')) as { msg?: string }).msg ?? e.MESSAGE);
  } catch {
    return String(e.MESSAGE);
  }
};

async function ready(t: TestLike): Promise<boolean> {
  if (!(await requireRootAndBins(t, { 'systemd-nspawn': 'systemd-container', nsenter: 'util-linux', pgrep: 'procps', containerd: 'containerd', runc: 'runc' }))) return false;
  return requireReal(t, `rootfs at ${defaultRootfs}`, () => rootfsReady(), 'sudo scripts/ensure-rootfs.sh (about 2 min, once)');
}

/** With POSTJOIN_CAPTURE_DIR set, the real output quoted in docs/readiness.md is written there. */
async function capture(name: string, text: string): Promise<void> {
  const dir = process.env.POSTJOIN_CAPTURE_DIR;
  if (dir) await writeFile(join(dir, name), text);
}

t.test('postjoin under systemd: after nodeadm-run, gated on readiness, Status: line, unit and wait tasks, reboot skips once tasks', async (t) => {
  if (!(await ready(t))) return;
  const { state, lib } = await nodeDirs(t);
  const boot = () => bootNode({ stateDir: state, containerdLib: lib, units, tasks: { '10-node.yaml': nodeTasks }, install: 'install.sh' });

  const c1 = await boot();
  t.teardown(() => c1.stop());
  t.comment(`boot 1 finished (postjoin included) in ${c1.bootMs} ms`);

  // `systemctl status`: active (exited) with the agent's last status.
  const status = (await c1.systemctl('status', '--no-pager', '--lines=0', 'postjoin')).stdout;
  await capture('systemctl-status-ok.txt', (await c1.systemctl('status', '--no-pager', 'postjoin')).stdout);
  t.match(status, /Loaded: loaded \(\/(usr\/)?lib\/systemd\/system\/postjoin\.service; enabled/, 'installed by install.sh and enabled');
  t.match(status, /Active: active \(exited\) since /);
  t.match(status, /Status: "done: all tasks succeeded"/);
  t.same(await show(c1, 'postjoin.service', 'ActiveState', 'SubState', 'Result', 'StatusText'), {
    ActiveState: 'active',
    SubState: 'exited',
    Result: 'success',
    StatusText: 'done: all tasks succeeded',
  });

  // Ordering from the journal: systemd starts postjoin only after nodeadm-run finished.
  const journal = await journalEntries(c1);
  const pid1 = (unit: string, re: RegExp) => journal.find((e) => e._PID === '1' && e.UNIT === unit && re.test(String(e.MESSAGE)));
  const nodeadmDone = pid1('nodeadm-run.service', /^Finished nodeadm-run\.service/);
  const postjoinStarting = pid1('postjoin.service', /^Starting postjoin\.service/);
  const agent = journal.filter((e) => e._SYSTEMD_UNIT === 'postjoin.service' && e.SYSLOG_IDENTIFIER === 'postjoin');
  t.ok(nodeadmDone && postjoinStarting && agent.length > 0, 'the journal has the entries to compare');
  if (!nodeadmDone || !postjoinStarting || !agent[0]) return;
  t.ok(usOf(postjoinStarting) >= usOf(nodeadmDone), `postjoin starting ${usOf(postjoinStarting) - usOf(nodeadmDone)} µs after nodeadm-run finished`);
  t.ok(usOf(agent[0]) > usOf(nodeadmDone), 'the agent logs nothing before nodeadm-run finished');

  // Readiness: the stub kubelet turned healthy while postjoin was already waiting, and no task started earlier.
  const msgs = agent.map(msgOf);
  const firstTask = msgs.findIndex((m) => /^task \S+ \(1\/7\): started$/.test(m));
  const unhealthy = msgs.findIndex((m) => m.startsWith('readiness: kubelet healthz: HTTP 503'));
  const healthy = msgs.indexOf('readiness: kubelet healthz: ok');
  t.ok(unhealthy >= 0 && unhealthy < healthy && healthy < firstTask, 'healthz 503, then ok, then the first task');
  for (const probe of ['containerd.service', 'kubelet.service']) t.ok(msgs.includes(`readiness: ${probe}: active/running`), `${probe} seen active over D-Bus`);
  t.ok(msgs.some((m) => /^readiness: containerd: RuntimeReady=true/.test(m)), 'containerd probe: CRI RuntimeReady=true');
  const healthyAtMs = Number((await c1.exec(['cat', '/run/kubelet-healthy-at'])).stdout);
  const firstTaskAtUs = Number(await readFile(join(state, 'first-task-at'), 'utf8'));
  t.ok(firstTaskAtUs / 1000 >= healthyAtMs, `the first task ran ${(firstTaskAtUs / 1000 - healthyAtMs).toFixed(1)} ms after healthz turned ok`);

  // Unit tasks really drove systemd; waits saw real units.
  t.equal((await c1.systemctl('is-active', 'demo-agent.service')).stdout.trim(), 'active', 'unit start: demo-agent is running');
  t.equal((await c1.systemctl('is-enabled', 'demo-enabled.service')).stdout.trim(), 'enabled', 'enable-now: enabled');
  t.equal((await c1.systemctl('is-active', 'demo-enabled.service')).stdout.trim(), 'active', 'enable-now: and started');
  t.ok(msgs.includes('start demo-agent.service: active/running'));
  t.ok(msgs.some((m) => m.startsWith('done waiting for demo-agent.service to be active: active/running')));
  t.equal((await c1.exec(['journalctl', '--no-pager', '-b', '-p', 'err', '-u', 'postjoin', '-o', 'cat'])).stdout.trim(), '', 'no error lines in a good run');
  await capture('journalctl-u-postjoin-ok.txt', (await c1.journal('postjoin.service', ['-b', '-o', 'short-precise'])).replace(/^$/gm, ''));
  const first = JSON.parse((await c1.exec(['postjoin', 'status', '--output', 'json'])).stdout) as { instanceId: string; bootId: string; result: string };
  t.equal(first.result, 'succeeded');
  await c1.stop();

  // Reboot: the same state dir and the same machine ID; once tasks are done, `once: false` runs again.
  const c2 = await boot();
  t.teardown(() => c2.stop());
  const st = JSON.parse((await c2.exec(['postjoin', 'status', '--output', 'json'])).stdout) as { instanceId: string; bootId: string; result: string; tasks: { name: string; status: string }[] };
  t.equal(st.instanceId, first.instanceId, 'same instance');
  t.not(st.bootId, first.bootId, 'another boot');
  t.equal(st.result, 'succeeded');
  t.same(Object.fromEntries(st.tasks.map((x) => [x.name, x.status])), {
    stamp: 'skipped-done',
    'start-agent': 'skipped-done',
    'enable-demo': 'skipped-done',
    'agent-active': 'skipped-done',
    'agent-ready': 'skipped-done',
    'kubelet-up': 'skipped-done',
    'every-boot': 'succeeded',
  });
  t.equal(await readFile(join(state, 'boots'), 'utf8'), 'boot\nboot\n');
  t.equal((await c2.systemctl('is-active', 'demo-agent.service')).stdout.trim(), 'inactive', 'a once `start` task is not redone on reboot');

  // The phases reach systemd while the agent runs: restart kubelet (healthz 503 again for 4 s) and postjoin.
  await c2.systemctl('restart', 'kubelet.service');
  await c2.systemctl('restart', '--no-block', 'postjoin.service');
  const seen = new Set<string>();
  await waitFor('postjoin to report that it waits for kubelet healthz', async () => {
    seen.add((await show(c2, 'postjoin.service', 'StatusText')).StatusText ?? '');
    return seen.has('waiting: kubelet healthz');
  }, { timeoutMs: 30_000, intervalMs: 50 });
  await waitFor('postjoin to finish again', async () => (await show(c2, 'postjoin.service', 'SubState')).SubState === 'exited', { timeoutMs: 60_000 });
  t.equal((await show(c2, 'postjoin.service', 'StatusText')).StatusText, 'done: all tasks succeeded');
  t.pass(`statuses seen while running: ${[...seen].join(' | ')}`);
  await c2.stop();
});

t.test('a failing essential task fails the unit; journalctl -p err shows exactly that task', async (t) => {
  if (!(await ready(t))) return;
  const { state, lib } = await nodeDirs(t);
  const c = await bootNode({
    stateDir: state,
    containerdLib: lib,
    kubeletHealthyAfterMs: 1000,
    install: 'wrapper',
    tasks: {
      '10-node.yaml': `${H}  - { name: tune, script: "echo vm.max_map_count=262144" }
  - { name: format-data, script: "echo 'mkfs.xfs: /dev/nvme1n1: No such device' >&2; exit 32" }
  - { name: never, script: "echo never" }
`,
    },
  });
  t.teardown(() => c.stop());
  t.equal((await c.systemctl('is-failed', 'postjoin.service')).stdout.trim(), 'failed');
  const status = (await c.systemctl('status', '--no-pager', '--lines=0', 'postjoin')).stdout;
  await capture('systemctl-status-failed.txt', (await c.systemctl('status', '--no-pager', 'postjoin')).stdout);
  t.match(status, /Active: failed \(Result: exit-code\)/);
  t.match(status, /Main PID: \d+ \(code=exited, status=1\/FAILURE\)/);
  t.match(status, 'Status: "failed (exit 1): task "format-data" failed: script exited with code 32: mkfs.xfs: /dev/nvme1n1: No such device"');

  const errs = await journalEntries(c, ['-p', 'err', '-u', 'postjoin']);
  await capture('journalctl-p-err-u-postjoin.txt', (await c.exec(['journalctl', '--no-pager', '-b', '-p', 'err', '-u', 'postjoin'])).stdout);
  const fromAgent = errs.filter((e) => e.SYSLOG_IDENTIFIER === 'postjoin');
  t.same(fromAgent.map(msgOf), ['task format-data (2/3) failed: script exited with code 32: mkfs.xfs: /dev/nvme1n1: No such device'], "the agent's only error line");
  t.same(errs.filter((e) => e.SYSLOG_IDENTIFIER !== 'postjoin').map((e) => String(e.MESSAGE)), [
    'Failed to start postjoin.service - postjoin post-join tasks for an EKS node.',
  ], "and systemd's own line about the unit");
  t.ok(errs.every((e) => Number(e.PRIORITY) <= 3), 'nothing below err');
  // The task's stderr and the run summary are in the journal, below err.
  const all = await journalEntries(c, ['-u', 'postjoin']);
  const prio = (m: string) => all.find((e) => e.SYSLOG_IDENTIFIER === 'postjoin' && msgOf(e) === m)?.PRIORITY;
  t.equal(prio('mkfs.xfs: /dev/nvme1n1: No such device'), '6', 'task stderr is info');
  t.equal(all.filter((e) => e.SYSLOG_IDENTIFIER === 'postjoin' && /^run failed: /.test(msgOf(e)))[0]?.PRIORITY, '4', 'the summary is a warning');
  const st = JSON.parse((await c.exec(['postjoin', 'status', '--output', 'json'])).stdout) as { result: string; tasks: { name: string; status: string }[] };
  t.equal(st.result, 'failed');
  t.same(st.tasks.map((x) => x.status), ['succeeded', 'failed', 'not-run']);
});

async function show(c: Container, unit: string, ...props: string[]): Promise<Record<string, string>> {
  const out = (await c.systemctl('show', unit, ...props.map((p) => `--property=${p}`))).stdout;
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

t.test('not ready by readiness.timeout: the unit fails with exit 3 naming what was not ready, and no task starts', async (t) => {
  if (!(await ready(t))) return;
  const { state, lib } = await nodeDirs(t);
  const c = await bootNode({
    stateDir: state,
    containerdLib: lib,
    // The stub kubelet stays unhealthy for the whole run; one readiness unit does not exist on this node.
    kubeletHealthyAfterMs: 3_600_000,
    install: 'wrapper',
    config: nodeConfig('{ timeout: 3s, units: [containerd.service, kubelet.service, nvidia-fabricmanager.service], kubeletHealthz: "http://127.0.0.1:10248/healthz", containerd: true }'),
    tasks: { '10-node.yaml': `${H}  - { name: first, script: "touch /var/lib/postjoin/first-ran" }\n` },
  });
  t.teardown(() => c.stop());
  const status = (await c.systemctl('status', '--no-pager', '--lines=0', 'postjoin')).stdout;
  await capture('systemctl-status-not-ready.txt', (await c.systemctl('status', '--no-pager', 'postjoin')).stdout);
  t.match(status, /Active: failed \(Result: exit-code\)/);
  t.match(status, /Main PID: \d+ \(code=exited, status=3\)/);
  t.match(status, /Status: "failed \(exit 3\): not ready after 3s: nvidia-fabricmanager\.service: not found \(LoadState=not-found\) \(last \ds ago\); kubelet healthz: HTTP 503 .*"/);
  const errs = (await journalEntries(c, ['-p', 'err', '-u', 'postjoin'])).filter((e) => e.SYSLOG_IDENTIFIER === 'postjoin').map(msgOf);
  await capture('journalctl-p-err-not-ready.txt', (await c.exec(['journalctl', '--no-pager', '-b', '-p', 'warning', '-u', 'postjoin'])).stdout);
  t.equal(errs.length, 1, 'one error line');
  t.match(errs[0], /^not ready after 3s: nvidia-fabricmanager\.service: not found \(LoadState=not-found\) \(last \ds ago\); kubelet healthz: HTTP 503 "\[-\]syncloop failed: stub kubelet is starting" \(last \ds ago\); no task was started$/);
  await t.rejects(readFile(join(state, 'first-ran')), 'no task ran');
  const st = JSON.parse((await c.exec(['postjoin', 'status', '--output', 'json'])).stdout) as { result: string; tasks: { name: string; status: string }[] };
  t.equal(st.result, 'not-ready');
  t.same(st.tasks.map((x) => [x.name, x.status]), [['first', 'not-run']]);
});
