// The systemd adapter against a stand-in for org.freedesktop.systemd1 on a private dbus-daemon: LoadUnit,
// signals, jobs and their races, and a bus that is missing or goes away. The nspawn tier runs it against
// the real systemd.
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { createHost } from '../../../src/host/host.js';
import { SystemdUnavailable, connectSystemd, systemBusAddress, type UnitState } from '../../../src/host/systemd/systemd.js';
import { standinFor as standin, unitPath } from '../../emulators/systemd1-standin.js';
import { removeDir, tempDir } from '../../harness/proc.js';
import { countingSocket } from '../../helpers/counting-socket.js';

t.test('the system bus address honours DBUS_SYSTEM_BUS_ADDRESS', async (t) => {
  t.equal(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/x/bus' }), 'unix:path=/x/bus');
  t.equal(systemBusAddress({}), 'unix:path=/run/dbus/system_bus_socket');
});

t.test('a missing bus is a clear error, not a crash', async (t) => {
  const dir = await tempDir('nobus');
  t.teardown(() => removeDir(dir));
  const address = `unix:path=${join(dir, 'missing')}`;
  const err = await connectSystemd({ address }).catch((e: unknown) => e);
  t.type(err, SystemdUnavailable);
  t.match((err as Error).message, `cannot connect to the system bus at ${address}: connect ENOENT`);

  // A socket that accepts but never speaks D-Bus: the connect timeout ends the wait.
  const sock = join(dir, 'silent');
  const srv = createServer((c) => c.resume()).listen(sock);
  t.teardown(() => srv.close());
  await new Promise((r) => srv.once('listening', r));
  const silent = await connectSystemd({ address: `unix:path=${sock}`, connectTimeoutMs: 200 }).catch((e: unknown) => e);
  t.match((silent as Error).message, /no answer within 200 ms/);
});

t.test('unit state through LoadUnit: inactive, not-found and failed units', async (t) => {
  const s = await standin(t);
  if (!s) return;
  s.unit('idle.service');
  s.unit('broken.service', { activeState: 'failed', subState: 'failed', result: 'exit-code' });
  const sd = await connectSystemd({ address: s.bus.address });
  t.teardown(() => sd.close());
  t.same(await sd.unitState('idle.service'), { name: 'idle.service', loadState: 'loaded', activeState: 'inactive', subState: 'dead' });
  t.same(await sd.unitState('nope.service'), { name: 'nope.service', loadState: 'not-found', activeState: 'inactive', subState: 'dead' });
  t.match(await sd.unitState('broken.service'), { activeState: 'failed', result: 'exit-code' });
  t.notOk(s.calls.some((c) => c.startsWith('GetUnit')), 'GetUnit is never used: it fails for garbage-collected units');
  await t.rejects(sd.unitState('bad name'), /systemd LoadUnit: Unit name bad name is not valid\. \(org\.freedesktop\.DBus\.Error\.InvalidArgs\)/);
  t.equal(unitPath('kubelet.service'), '/org/freedesktop/systemd1/unit/kubelet_2eservice');
});

t.test('watchUnit: Subscribe, then every PropertiesChanged reaches the watcher', async (t) => {
  const s = await standin(t);
  if (!s) return;
  s.unit('kubelet.service');
  const sd = await connectSystemd({ address: s.bus.address });
  t.teardown(() => sd.close());
  const seen: string[] = [];
  const announced: unknown[] = [];
  let notify: () => void = () => {};
  const unwatch = await sd.watchUnit('kubelet.service', (changed) => {
    announced.push(changed);
    void sd.unitState('kubelet.service').then((st) => {
      seen.push(st.activeState);
      notify();
    });
  });
  t.ok(s.calls.includes('Subscribe'), 'Manager.Subscribe was called');
  const got = new Promise<void>((r) => (notify = () => seen.includes('active') && r()));
  s.setState('kubelet.service', 'active');
  await got;
  t.ok(seen.includes('active'));
  t.same(announced[0], { activeState: 'active', subState: 'running' }, 'the signal carries the new state');
  await unwatch();
  const before = seen.length;
  s.setState('kubelet.service', 'inactive');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(seen.length, before, 'no callbacks after unwatch');
});

t.test('jobs: start, stop, restart wait for JobRemoved and report its result', async (t) => {
  const s = await standin(t);
  if (!s) return;
  s.unit('agent.service', { jobDelayMs: 30 });
  const sd = await connectSystemd({ address: s.bus.address });
  t.teardown(() => sd.close());
  const started = await sd.runJob('start', 'agent.service');
  t.match(started, { job: /^\/org\/freedesktop\/systemd1\/job\/\d+$/, result: 'done' });
  t.equal((await sd.unitState('agent.service')).activeState, 'active', 'the state is final when runJob returns');
  t.match(await sd.runJob('restart', 'agent.service'), { result: 'done' });
  t.match(await sd.runJob('stop', 'agent.service'), { result: 'done' });
  t.equal((await sd.unitState('agent.service')).activeState, 'inactive');

  s.unit('agent.service', { nextJobs: ['failed'] });
  t.match(await sd.runJob('start', 'agent.service'), { result: 'failed' });
  t.match(await sd.unitState('agent.service'), { activeState: 'failed', result: 'exit-code' });

  s.jobRemovedBeforeReply(true);
  t.match(await sd.runJob('start', 'agent.service'), { result: 'done' }, 'a JobRemoved that overtakes the reply is not lost');
  s.jobRemovedBeforeReply(false);

  await t.rejects(sd.runJob('start', 'ghost.service'), /systemd StartUnit: Unit ghost\.service not found\. \(org\.freedesktop\.systemd1\.NoSuchUnit\)/);

  s.unit('agent.service', { nextJobs: ['hang'] });
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(new Error('timed out after 200ms')), 200);
  await t.rejects(sd.runJob('restart', 'agent.service', ctl.signal), /timed out after 200ms/, 'a hung job ends with the caller\'s signal');
});

t.test('enable and reload', async (t) => {
  const s = await standin(t);
  if (!s) return;
  s.unit('cw-agent.service');
  s.unit('static.service', { install: false });
  const sd = await connectSystemd({ address: s.bus.address });
  t.teardown(() => sd.close());
  t.same(await sd.enableUnitFiles(['cw-agent.service']), {
    carriesInstallInfo: true,
    changes: [{ type: 'symlink', file: '/etc/systemd/system/multi-user.target.wants/cw-agent.service', destination: '/etc/systemd/system/cw-agent.service' }],
  });
  t.same(await sd.enableUnitFiles(['static.service']), { carriesInstallInfo: false, changes: [] });
  await t.rejects(sd.enableUnitFiles(['ghost.service']), /Unit file ghost\.service does not exist/);
  await sd.reload();
  t.ok(s.calls.includes('Reload'));
});

t.test('waitForUnit: woken by signals, and by polling when signals never come', async (t) => {
  const s = await standin(t);
  if (!s) return;
  s.unit('kubelet.service', { activeState: 'activating', subState: 'start' });
  const sd = await connectSystemd({ address: s.bus.address });
  t.teardown(() => sd.close());
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const active = (st: UnitState) => st.activeState === 'active';

  let t0 = Date.now();
  const bySignal = sd.waitForUnit('kubelet.service', active, { signal: ctl.signal, pollMs: 60_000 });
  setTimeout(() => s.setState('kubelet.service', 'active'), 50);
  t.match(await bySignal, { activeState: 'active' });
  t.ok(Date.now() - t0 < 10_000, 'seen through the signal, not the 60 s poll');

  s.setState('kubelet.service', 'activating');
  s.muteSignals(true);
  t0 = Date.now();
  const byPoll = sd.waitForUnit('kubelet.service', active, { signal: ctl.signal, pollMs: 100 });
  setTimeout(() => s.setState('kubelet.service', 'active'), 50);
  t.match(await byPoll, { activeState: 'active' }, 'the poll finds it without any signal');
  s.muteSignals(false);

  const seen: string[] = [];
  s.setState('kubelet.service', 'failed');
  const stopFlap = s.flap('kubelet.service', [['activating', 'start'], ['failed', 'failed']], 5);
  const giveUp = new AbortController();
  setTimeout(() => giveUp.abort(new Error('gave up')), 300);
  await t.rejects(sd.waitForUnit('kubelet.service', active, { signal: giveUp.signal, onState: (st) => seen.push(st.activeState) }), /gave up/);
  stopFlap();
  t.ok(seen.includes('failed') && seen.includes('activating'), 'a flapping unit is followed, never taken for active', { seen: seen.join(' ') });
});

t.test('the bus going away: pending calls and waits fail at once, watchers hear of it, Host reconnects', async (t) => {
  const s = await standin(t);
  if (!s) return;
  s.unit('kubelet.service', { activeState: 'activating' });
  s.unit('agent.service', { nextJobs: ['hang'] });
  const host = createHost({ connectSystemd: () => connectSystemd({ address: s.bus.address }) });
  t.teardown(() => host.close());
  const sd = await host.systemd();
  t.equal(await host.systemd(), sd, 'one shared connection');
  let told = 0;
  await sd.watchUnit('kubelet.service', () => told++);
  const ctl = new AbortController();
  // Both settle while the test awaits something else: collect them now, assert below.
  const wait = sd.waitForUnit('kubelet.service', (st) => st.activeState === 'active', { signal: ctl.signal, pollMs: 60_000 }).catch((e: unknown) => e);
  const job = sd.runJob('start', 'agent.service').catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 50));
  await s.dropBus();
  t.match(await wait, { name: 'SystemdUnavailable', message: /system bus connection at .* (failed|was closed)/ });
  t.match(await job, { name: 'SystemdUnavailable', message: /while waiting for the start job for agent\.service/ });
  t.ok(sd.lost);
  t.ok(told >= 1, 'watchers are called when the bus is lost');
  await t.rejects(sd.unitState('kubelet.service'), SystemdUnavailable);
  await t.rejects(host.systemd(), { name: 'SystemdUnavailable', message: /cannot connect to the system bus/ }, 'reconnecting to a dead bus fails cleanly');
});

t.test('Host connects lazily: no D-Bus traffic until systemd() is called', async (t) => {
  const dir = await tempDir('lazy');
  t.teardown(() => removeDir(dir));
  const sock = join(dir, 'bus');
  const bus = await countingSocket(t, sock);
  const host = createHost({ connectSystemd: () => connectSystemd({ address: `unix:path=${sock}` }) });
  await new Promise((r) => setTimeout(r, 50));
  await host.close();
  t.equal(bus.connections(), 0);
  const used = createHost({ connectSystemd: () => connectSystemd({ address: `unix:path=${sock}` }) });
  await t.rejects(used.systemd(), SystemdUnavailable);
  t.equal(bus.connections(), 1);
  await used.close();
  await t.rejects(used.systemd(), /closed/);
});
