// The `unit` task kind: validation, policy.units, and each action through the runner against the systemd1
// stand-in (jobs that finish, fail, hang; enable-now; a bus that is missing). The nspawn tier runs it
// against the real systemd.
import { join } from 'node:path';
import t from 'tap';
import { createHost, type Host } from '../../src/host/host.js';
import { connectSystemd } from '../../src/host/systemd/systemd.js';
import { unitNameProblem } from '../../src/base/unit-name.js';
import { standinFor, type Systemd1Standin } from '../emulators/systemd1-standin.js';
import { removeDir, tempDir } from '../harness/proc.js';
import { HEADER, config, planFrom, planProblems } from '../helpers/plan.js';
import { runRecorded } from '../helpers/run-plan.js';

/** Problems as `at: message`, without the source and line these tests do not vary. */
const problems = (yaml: string, cfg = config()) => planProblems(yaml, cfg, (p) => `${p.at ?? ''}: ${p.message}`);

function hostFor(t: { teardown(fn: () => unknown): void }, s: Systemd1Standin): Host {
  const host = createHost({ connectSystemd: () => connectSystemd({ address: s.bus.address }) });
  t.teardown(() => host.close());
  return host;
}

t.test('unit names: the full name systemd needs, with hints', async (t) => {
  t.equal(unitNameProblem('kubelet.service'), undefined);
  t.equal(unitNameProblem('getty@tty1.service'), undefined);
  t.equal(unitNameProblem('dev-disk-by\\x2dlabel-data.mount'), undefined);
  t.equal(unitNameProblem('kubelet'), '"kubelet" has no unit type; write the full name, e.g. "kubelet.service"');
  t.equal(unitNameProblem('getty@.service'), '"getty@.service" is a template; name an instance, e.g. "getty@1.service"');
  t.match(unitNameProblem('kube let.service'), /only letters, digits/);
  t.match(unitNameProblem('x.conf'), /must end in \.service, \.socket, \.target or another unit type/);
  t.equal(unitNameProblem(''), 'the unit name is empty');
  t.match(unitNameProblem(`${'a'.repeat(250)}.service`), /at most 255/);
});

t.test('validation: name and action, every problem at once', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    unit: { name: amazon-cloudwatch-agent.service, action: restart }\n`), []);
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    unit: { name: kubelet, action: reboot }\n`), [
    'tasks[0].unit.name: "kubelet" has no unit type; write the full name, e.g. "kubelet.service"',
    'tasks[0].unit.action: expected one of "start", "restart", "stop", "enable-now"',
  ]);
  t.match(problems(`${HEADER}tasks:\n  - name: a\n    unit: { name: a.service, action: start, now: true }\n`), [/unit.*now/]);
  t.match(problems(`${HEADER}tasks:\n  - name: a\n    unit: kubelet.service\n`), [/tasks\[0\]\.unit: /]);
});

t.test('policy.units: globs on the unit name; empty allows any', async (t) => {
  const cfg = config({ policy: { units: ['amazon-*.service', 'kubelet.service'] } });
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    unit: { name: amazon-ssm-agent.service, action: restart }\n`, cfg), []);
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    unit: { name: sshd.service, action: stop }\n`, cfg), [
    ': task "a": unit "sshd.service" is not allowed by policy.units [amazon-*.service, kubelet.service]',
  ]);
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    unit: { name: sshd.service, action: stop }\n`), []);
});

t.test('start, restart, stop and enable-now wait for the job and check the state', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('agent.service', { jobDelayMs: 50 });
  s.unit('cw-agent.service');
  s.unit('static.service', { install: false });
  s.unit('oneshot.service', { startedState: ['inactive', 'dead'] });
  const host = hostFor(t, s);
  const r = await runRecorded(
    planFrom(`${HEADER}tasks:
  - { name: start, unit: { name: agent.service, action: start } }
  - { name: restart, unit: { name: agent.service, action: restart } }
  - { name: enable, unit: { name: cw-agent.service, action: enable-now } }
  - { name: enable-static, unit: { name: static.service, action: enable-now } }
  - { name: oneshot, unit: { name: oneshot.service, action: start } }
  - { name: stop, unit: { name: agent.service, action: stop } }
`),
    { host },
  );
  t.equal(r.outcome.exitCode, 0, r.errors.join('\n'));
  t.same(
    s.calls.filter((c) => !/^(LoadUnit|Get|GetAll|Subscribe)\b/.test(c)),
    ['StartUnit agent.service', 'RestartUnit agent.service', 'EnableUnitFiles cw-agent.service', 'Reload', 'StartUnit cw-agent.service', 'EnableUnitFiles static.service', 'Reload', 'StartUnit static.service', 'StartUnit oneshot.service', 'StopUnit agent.service'],
  );
  const msgs = r.messages();
  t.ok(msgs.includes('start agent.service: active/running'));
  t.ok(msgs.includes('enable-now cw-agent.service: active/running'));
  t.ok(msgs.includes('enabled cw-agent.service: symlink /etc/systemd/system/multi-user.target.wants/cw-agent.service'));
  t.ok(r.records.some((x) => x.level === 'warn' && x.msg === 'static.service has no [Install] section, so enabling it changes nothing; starting it anyway'));
  t.ok(msgs.includes('start oneshot.service: inactive/dead'), 'a oneshot that ran and exited is a success');
  t.ok(msgs.includes('stop agent.service: inactive/dead'));
});

t.test('a failed job, a missing unit and a crash-looping unit fail the task with what systemd said', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('broken.service', { nextJobs: ['failed'] });
  s.unit('looping.service', { startedState: ['activating', 'auto-restart'] });
  const host = hostFor(t, s);
  const one = async (yaml: string) => (await runRecorded(planFrom(`${HEADER}tasks:\n${yaml}`), { host })).errors;
  t.same(await one('  - { name: a, unit: { name: broken.service, action: start } }\n'), [
    'task a (1/1) failed: start broken.service: the job ended "failed"; the unit is failed/failed (Result=exit-code); see journalctl -u broken.service',
  ]);
  t.same(await one('  - { name: a, unit: { name: ghost.service, action: restart } }\n'), [
    'task a (1/1) failed: systemd RestartUnit: Unit ghost.service not found. (org.freedesktop.systemd1.NoSuchUnit)',
  ]);
  t.same(await one('  - { name: a, unit: { name: looping.service, action: start } }\n'), [
    'task a (1/1) failed: looping.service failed and is waiting to be restarted (activating/auto-restart); see journalctl -u looping.service',
  ]);
  t.same(await one('  - { name: a, unit: { name: ghost.service, action: enable-now } }\n'), [
    'task a (1/1) failed: systemd EnableUnitFiles: Unit file ghost.service does not exist. (org.freedesktop.DBus.Error.FileNotFound)',
  ]);
});

t.test('a job that never finishes ends at the task timeout; retries get a fresh job', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('stuck.service', { nextJobs: ['hang', 'done'] });
  const host = hostFor(t, s);
  const r = await runRecorded(planFrom(`${HEADER}tasks:\n  - { name: a, timeout: 300ms, retries: 1, retryDelay: 10ms, unit: { name: stuck.service, action: start } }\n`), { host });
  t.equal(r.outcome.exitCode, 0);
  t.ok(r.messages().some((m) => /^task a \(1\/1\): attempt 1\/2 failed: timed out after 300ms/.test(m)), r.messages().join('\n'));
  t.equal(s.calls.filter((c) => c === 'StartUnit stuck.service').length, 2);
});

t.test('no bus: the task fails with the address it tried, and the agent does not crash', async (t) => {
  const dir = await tempDir('nobus');
  t.teardown(() => removeDir(dir));
  const address = `unix:path=${join(dir, 'system_bus_socket')}`;
  const host = createHost({ connectSystemd: () => connectSystemd({ address }) });
  t.teardown(() => host.close());
  const r = await runRecorded(planFrom(`${HEADER}tasks:\n  - { name: a, unit: { name: x.service, action: start } }\n`), { host });
  t.equal(r.outcome.exitCode, 1);
  t.match(r.errors, [`task a (1/1) failed: cannot reach systemd: cannot connect to the system bus at ${address}: connect ENOENT`]);
});
