// Fault injection, D-Bus, end to end through the bundle: the system bus dropping while the run waits for
// readiness, and systemd answering StartUnit with errors (or not at all). Verdicts: exit 3 naming the bus and no
// task started; a unit task that fails with systemd's own error name and text, the agent carrying on.
// (The bus absent at start: test/readiness/readiness-run.test.ts, test/kinds/unit.test.ts; in-process drop: test/readiness/gate.test.ts.)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Message, MessageType, sessionBus, type MessageBus } from 'dbus-next';
import t from 'tap';
import { standinFor } from '../emulators/systemd1-standin.js';
import { requireRootAndBins, startDbus } from '../harness/index.js';
import { logLines, runCli, taskList, workspace } from '../helpers/cli.js';

t.test('the system bus drops while the run waits for a unit: exit 3 naming the bus, no task started, within the deadline', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('kubelet.service', { activeState: 'activating', subState: 'start' });
  const ws = await workspace();
  const { writeFile } = await import('node:fs/promises');
  await writeFile(ws.configPath, `sources: [file]\ntasksDir: ${ws.tasksDir}\nimds: { enabled: false }\nreadiness: { timeout: 4s, units: [kubelet.service], kubeletHealthz: null, containerd: false }\n`);
  await ws.task('10.yaml', taskList(`  - { name: a, script: "touch ${ws.dir}/started" }\n`));
  const started = Date.now();
  const run = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: s.env });
  // Drop it once the agent is watching the unit (it has loaded it and subscribed).
  for (let i = 0; i < 500 && !s.calls.some((c) => c.startsWith('LoadUnit kubelet.service')); i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(s.calls.some((c) => c.startsWith('LoadUnit kubelet.service')), 'the agent was watching the unit');
  await s.dropBus();
  const r = await run;
  const took = Date.now() - started;
  t.equal(r.code, 3, r.stdout.slice(-2000));
  t.ok(took < 4_000 + 6_000, `ended ${took} ms after start (deadline 4s)`);
  const errors = logLines(r.stdout).filter((l) => l.level === 'error').map((l) => String(l.msg));
  t.equal(errors.length, 1);
  t.match(errors[0], /^not ready after 4s: kubelet\.service: system bus unreachable: cannot connect to the system bus at unix:path=.*; no task was started$/);
  t.ok(logLines(r.stdout).some((l) => /kubelet\.service: system bus (connection at .* (failed|was closed)|unreachable)/.test(String(l.msg))), 'the drop is logged when it happens');
  await t.rejects(readFile(join(ws.dir, 'started')), 'no task ran');
  t.match(JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout), { result: 'not-ready', tasks: [{ name: 'a', status: 'not-run' }] });
});

/**
 * A systemd1 that answers StartUnit with the error its table names for the unit, or never answers. Everything
 * else a unit task needs first (Subscribe) is answered as systemd does.
 */
async function erringSystemd(address: string, errors: Record<string, [string, string] | 'no-reply'>): Promise<{ calls: string[]; close(): void }> {
  const conn: MessageBus = sessionBus({ busAddress: address });
  conn.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    conn.once('connect', resolve);
    conn.once('error', reject);
  });
  await conn.requestName('org.freedesktop.systemd1', 0);
  const calls: string[] = [];
  conn.addMethodHandler((msg: Message) => {
    if (msg.type !== MessageType.METHOD_CALL || msg.destination !== 'org.freedesktop.systemd1') return false;
    calls.push(`${msg.member} ${String(msg.body[0] ?? '')}`.trim());
    const fail = (name: string, text: string) => conn.send(Message.newError(msg as unknown as string, name, text));
    if (msg.member === 'Subscribe') conn.send(Message.newMethodReturn(msg, '', []));
    else if (msg.member === 'StartUnit') {
      const e = errors[String(msg.body[0])];
      if (e === 'no-reply') return true;
      if (e) fail(e[0], e[1]);
      else fail('org.freedesktop.systemd1.NoSuchUnit', `Unit ${String(msg.body[0])} not found.`);
    } else fail('org.freedesktop.DBus.Error.UnknownMethod', `Unknown method ${msg.member}`);
    return true;
  });
  return { calls, close: () => conn.disconnect() };
}

t.test('systemd answers StartUnit with errors, or not at all: each unit task fails with what systemd said, the run goes on', async (t) => {
  if (!(await requireRootAndBins(t, { 'dbus-daemon': 'dbus' }))) return;
  const bus = await startDbus();
  t.teardown(() => bus.stop());
  const systemd = await erringSystemd(bus.address, {
    'masked.service': ['org.freedesktop.systemd1.UnitMasked', 'Unit masked.service is masked.'],
    'denied.service': ['org.freedesktop.DBus.Error.AccessDenied', 'Access denied'],
    'conflict.service': ['org.freedesktop.systemd1.TransactionIsDestructive', 'Transaction for conflict.service/start is destructive (shutdown.target has \'start\' job queued, but \'stop\' is included in transaction).'],
    'silent.service': 'no-reply',
  });
  t.teardown(() => systemd.close());
  const ws = await workspace();
  await ws.task(
    '10.yaml',
    taskList(`  - { name: masked, onFailure: continue, unit: { name: masked.service, action: start } }
  - { name: denied, onFailure: continue, unit: { name: denied.service, action: start } }
  - { name: conflict, onFailure: continue, unit: { name: conflict.service, action: start } }
  - { name: silent, onFailure: continue, timeout: 1s, unit: { name: silent.service, action: start } }
  - { name: after, exec: { command: /bin/sh, args: [-c, "touch ${ws.dir}/after"] } }
`),
  );
  const started = Date.now();
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: bus.env });
  t.equal(r.code, 0, r.stdout.slice(-3000));
  t.ok(Date.now() - started < 20_000, 'no call held the run past its task timeout');
  t.equal(r.stderr, '', 'nothing on stderr: no crash, no stack');
  await readFile(join(ws.dir, 'after')).then(() => t.pass('the task after them ran'));
  const status = JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout) as { tasks: { name: string; status: string; error?: string }[] };
  const byName = Object.fromEntries(status.tasks.map((x) => [x.name, x]));
  t.match(byName.masked, { status: 'continued', error: 'systemd StartUnit: Unit masked.service is masked. (org.freedesktop.systemd1.UnitMasked)' });
  t.match(byName.denied, { status: 'continued', error: 'systemd StartUnit: Access denied (org.freedesktop.DBus.Error.AccessDenied)' });
  t.match(byName.conflict, { status: 'continued', error: /^systemd StartUnit: Transaction for conflict\.service\/start is destructive .*\(org\.freedesktop\.systemd1\.TransactionIsDestructive\)$/ });
  t.match(byName.silent, { status: 'continued', error: /^timed out after 1s/ });
  t.match(byName.after, { status: 'succeeded' });
  t.same(systemd.calls.filter((c) => c.startsWith('StartUnit')), ['StartUnit masked.service', 'StartUnit denied.service', 'StartUnit conflict.service', 'StartUnit silent.service']);

  // The same error on an essential task stops the run: exit 1, the error line names systemd's error.
  await ws.task('10.yaml', taskList(`  - { name: masked, unit: { name: masked.service, action: start } }\n  - { name: never, exec: { command: /bin/true } }\n`));
  const essential = await runCli(['run', '--config', ws.configPath, '--state-dir', `${ws.stateDir}-2`], { env: bus.env });
  t.equal(essential.code, 1);
  t.ok(logLines(essential.stdout).some((l) => l.level === 'error' && l.task === 'masked' && /systemd StartUnit: Unit masked\.service is masked\. \(org\.freedesktop\.systemd1\.UnitMasked\)/.test(String(l.msg))));
});
