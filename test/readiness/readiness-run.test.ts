// `postjoin run` (the real bundle) with the readiness gate: no D-Bus unless the plan needs it, exit 3 naming
// what was not ready with no task started, and the status lines systemd would show, against the systemd1
// stand-in and a local kubelet healthz.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { standinFor } from '../emulators/systemd1-standin.js';
import { logLines, runCli, taskList, workspace, type Workspace } from '../helpers/cli.js';
import { countingSocket } from '../helpers/counting-socket.js';

async function configure(ws: Workspace, readiness: string): Promise<void> {
  await writeFile(ws.configPath, `sources: [file]\ntasksDir: ${ws.tasksDir}\nimds: { enabled: false }\nreadiness: ${readiness}\n`);
}

t.test('a plan without unit probes, unit tasks or unit waits never touches D-Bus', async (t) => {
  const ws = await workspace();
  await ws.task('10-a.yaml', taskList(`  - { name: a, exec: { command: /bin/sh, args: [-c, "echo ran > ${ws.dir}/ran"] } }\n`));
  // 1. The bus socket does not exist at all.
  const missing = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], {
    env: { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${ws.dir}/no-such-bus` },
  });
  t.equal(missing.code, 0, missing.stdout);
  t.equal(await readFile(join(ws.dir, 'ran'), 'utf8'), 'ran\n');
  // 2. A socket that counts who connects to it.
  const sock = join(ws.dir, 'bus');
  const bus = await countingSocket(t, sock);
  const counted = await runCli(['run', '--config', ws.configPath, '--state-dir', join(ws.dir, 'state2')], { env: { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${sock}` } });
  t.equal(counted.code, 0);
  t.equal(bus.connections(), 0, 'no connection to the system bus');
});

t.test('not ready by the deadline: exit 3, each probe named with its last observation, no task started', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('containerd.service', { activeState: 'active', subState: 'running' });
  s.unit('kubelet.service', { activeState: 'failed', subState: 'failed', result: 'exit-code' });
  const kubelet = createHttpServer((_q, r) => {
    r.statusCode = 500;
    r.end('[-]syncloop failed: ...');
  });
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => kubelet.close(r)));
  const url = `http://127.0.0.1:${(kubelet.address() as AddressInfo).port}/healthz`;
  const ws = await workspace();
  await configure(ws, `{ timeout: 1s, units: [containerd.service, kubelet.service], kubeletHealthz: "${url}", containerd: false }`);
  await ws.task('10-a.yaml', taskList(`  - { name: a, script: "touch ${ws.dir}/started" }\n  - { name: b, exec: { command: /bin/true } }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: s.env });
  t.equal(r.code, 3, r.stdout);
  t.equal(r.stderr, '');
  const lines = logLines(r.stdout);
  const errors = lines.filter((l) => l.level === 'error').map((l) => l.msg);
  t.equal(errors.length, 1, 'one error line: the reason');
  t.match(errors[0], /^not ready after 1s: kubelet\.service: failed\/failed \(Result=exit-code\) \(last \ds ago\); kubelet healthz: HTTP 500 "\[-\]syncloop failed: \.\.\." \(last \ds ago\); no task was started$/);
  await t.rejects(readFile(join(ws.dir, 'started')), 'no task ran');
  const status = await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json']);
  const st = JSON.parse(status.stdout) as { result: string; tasks: { name: string; status: string }[] };
  t.equal(st.result, 'not-ready');
  t.same(st.tasks.map((x) => [x.name, x.status]), [['a', 'not-run'], ['b', 'not-run']]);

  // Readiness units configured but no bus at all: the same exit 3, naming the bus.
  await configure(ws, '{ timeout: 500ms, units: [kubelet.service], kubeletHealthz: null, containerd: false }');
  const nobus = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${ws.dir}/gone` } });
  t.equal(nobus.code, 3);
  t.match(logLines(nobus.stdout).filter((l) => l.level === 'error').map((l) => l.msg), [
    `not ready after 500ms: kubelet.service: system bus unreachable: cannot connect to the system bus at unix:path=${ws.dir}/gone: connect ENOENT ${ws.dir}/gone (last 0s ago); no task was started`,
  ]);
});

t.test('the run waits for the unit, reports its phases to systemd, and starts the tasks once it is active', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('kubelet.service', { activeState: 'activating', subState: 'start' });
  s.unit('agent.service');
  const ws = await workspace();
  await configure(ws, '{ timeout: 1m, units: [kubelet.service], kubeletHealthz: null, containerd: false }');
  await ws.task(
    '10-a.yaml',
    taskList(`  - { name: stamp, exec: { command: /bin/sh, args: [-c, "date +%s%3N > ${ws.dir}/stamp"] } }
  - { name: start-agent, unit: { name: agent.service, action: restart } }
  - { name: agent-up, wait: { unit: agent.service } }
`),
  );
  // systemd-notify stand-in: records each --status= it is given.
  const bin = join(ws.dir, 'bin');
  const notes = join(ws.dir, 'notify.log');
  await mkdir(bin);
  await writeFile(join(bin, 'systemd-notify'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${notes}\n`);
  await chmod(join(bin, 'systemd-notify'), 0o755);
  const run = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], {
    env: { ...s.env, NOTIFY_SOCKET: '/run/systemd/notify', PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
  // Flip only once the agent is visibly waiting, so the "waiting" status had its chance to be sent.
  for (let i = 0; i < 2000 && !(await readFile(notes, 'utf8').catch(() => '')).includes('waiting: kubelet.service'); i++) await new Promise((r) => setTimeout(r, 10));
  const flippedAt = Date.now();
  s.setState('kubelet.service', 'active');
  const r = await run;
  t.equal(r.code, 0, r.stdout);
  const stamp = Number(await readFile(join(ws.dir, 'stamp'), 'utf8'));
  t.ok(stamp >= flippedAt, 'the first task started after the unit turned active');
  t.comment(`readiness reaction (one sample, not a benchmark): ${stamp - flippedAt} ms`);
  t.ok(s.calls.includes('RestartUnit agent.service'));
  const statuses = (await readFile(notes, 'utf8')).trim().split('\n');
  // Statuses are coalesced (the latest wins), so "loading config and sources" may be superseded before it is sent.
  t.ok(statuses.every((x) => /^--status=(loading config and sources|waiting: .+|task \d+\/3 \S+|done: all tasks succeeded)$/.test(x)), statuses.join('\n'));
  t.ok(statuses.includes('--status=waiting: kubelet.service'));
  t.equal(statuses.at(-1), '--status=done: all tasks succeeded');
  const lines = logLines(r.stdout);
  t.ok(lines.some((l) => l.msg === 'readiness: kubelet.service: activating/start'));
  t.ok(lines.some((l) => l.msg === 'readiness: kubelet.service: active/running'));
  t.notOk(s.calls.some((c) => c.startsWith('GetUnit')));
});
