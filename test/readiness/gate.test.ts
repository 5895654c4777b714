// The readiness gate with real probes: kubelet healthz against a local HTTP server, unit probes against the
// systemd1 stand-in on a private dbus-daemon (signals, flapping, a missing or vanishing bus), and probes that
// throw or hang.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { createHost } from '../../src/host/host.js';
import { connectSystemd } from '../../src/host/systemd/systemd.js';
import { POLL_INTERVAL_MS, probesFor, waitUntilReady } from '../../src/readiness/gate.js';
import { kubeletHealthzProbe } from '../../src/readiness/kubelet-healthz.js';
import type { Probe } from '../../src/readiness/probe.js';
import { describeUnit } from '../../src/host/systemd/unit-state.js';
import { unitProbe } from '../../src/readiness/unit-probe.js';
import { StopReason } from '../../src/base/stop-reason.js';
import { startKubeletStub } from '../emulators/kubelet-healthz.js';
import { standinFor, type Systemd1Standin } from '../emulators/systemd1-standin.js';
import { removeDir, tempDir } from '../harness/proc.js';
import { config } from '../helpers/plan.js';
import { memoryLogger } from '../helpers/memory-log.js';

const never = new AbortController().signal;

function gateDeps(timeoutMs: number, stop = never) {
  const mem = memoryLogger();
  const statuses: string[] = [];
  return { mem, statuses, deps: { log: mem.log, notify: { status: (s: string) => void statuses.push(s), flush: async () => {} }, stop, timeoutMs } };
}

/** The kubelet stand-in, closed at teardown; healthy() flips it and returns when. */
async function fakeKubelet(t: { teardown(fn: () => unknown): void }): Promise<{ url: string; healthy(): number }> {
  const stub = await startKubeletStub('[-]syncloop failed');
  t.teardown(stub.close);
  return {
    url: stub.url,
    healthy: () => {
      stub.setHealthy(true);
      return Date.now();
    },
  };
}

function hostFor(t: { teardown(fn: () => unknown): void }, s: Systemd1Standin) {
  const host = createHost({ connectSystemd: () => connectSystemd({ address: s.bus.address }) });
  t.teardown(() => host.close());
  return host;
}

t.test('describeUnit: active is ready; failed and missing units say so', async (t) => {
  t.same(describeUnit({ name: 'a', loadState: 'loaded', activeState: 'active', subState: 'running' }), { ready: true, detail: 'active/running' });
  t.same(describeUnit({ name: 'a', loadState: 'loaded', activeState: 'activating', subState: 'start' }), { ready: false, detail: 'activating/start' });
  t.same(describeUnit({ name: 'a', loadState: 'loaded', activeState: 'failed', subState: 'failed', result: 'exit-code' }), {
    ready: false,
    detail: 'failed/failed (Result=exit-code)',
    severity: 'warn',
  });
  t.same(describeUnit({ name: 'a', loadState: 'not-found', activeState: 'inactive', subState: 'dead' }), { ready: false, detail: 'not found (LoadState=not-found)', severity: 'warn' });
  t.match(describeUnit({ name: 'a', loadState: 'masked', activeState: 'inactive', subState: 'dead' }), { detail: 'masked (LoadState=masked)' });
});

t.test('probesFor: one probe per unit, then healthz; none when everything is off', async (t) => {
  t.same(probesFor(config()).map((p) => p.name), []);
  const cfg = config({ readiness: { units: ['containerd.service', 'kubelet.service'], kubeletHealthz: 'http://127.0.0.1:10248/healthz', containerd: false } });
  const probes = probesFor(cfg);
  t.same(probes.map((p) => p.name), ['containerd.service', 'kubelet.service', 'kubelet healthz']);
  t.equal(probes[0]?.pollIntervalMs, 1000, 'units poll slowly: signals do the work');
  t.equal(probes[2]?.pollIntervalMs, 25, 'healthz can only be polled: often');
  t.equal(POLL_INTERVAL_MS, 50);
  // The private host of probes built without one is released by the last close, and never connected here.
  for (const p of probes) await p.close?.();
});

t.test('ready when every unit is active and healthz answers ok; the unit is seen through its signal', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('containerd.service', { activeState: 'active', subState: 'running' });
  s.unit('kubelet.service', { activeState: 'activating', subState: 'start' });
  const kubelet = await fakeKubelet(t);
  const host = hostFor(t, s);
  // A 60 s fallback poll: if the gate finishes, the signal woke it.
  const probes = [unitProbe('containerd.service', host, { pollIntervalMs: 60_000 }), unitProbe('kubelet.service', host, { pollIntervalMs: 60_000 }), kubeletHealthzProbe(kubelet.url, host)];
  const { mem, statuses, deps } = gateDeps(30_000);
  const gate = waitUntilReady(probes, deps);
  await waitForMessage(mem, 'readiness: kubelet healthz: HTTP 503 "[-]syncloop failed"');
  await waitForMessage(mem, 'readiness: kubelet.service: activating/start');
  kubelet.healthy();
  await waitForMessage(mem, 'readiness: kubelet healthz: ok');
  t.ok(statuses.includes('waiting: kubelet.service'), 'the status names what is still awaited');
  s.setState('kubelet.service', 'active');
  await gate;
  const msgs = mem.messages();
  t.ok(msgs.includes('readiness: kubelet.service: active/running'));
  t.match(msgs.at(-1), /^node is ready after /);
  t.ok(s.calls.includes('Subscribe'));
  t.notOk(s.calls.some((c) => c.startsWith('GetUnit')));
});

t.test('the deadline names each probe still failing with its last observation', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('kubelet.service', { activeState: 'failed', subState: 'failed', result: 'exit-code' });
  const host = hostFor(t, s);
  const dir = await tempDir('gate');
  t.teardown(() => removeDir(dir));
  const closed = `http://127.0.0.1:${await closedPort()}/healthz`;
  const probes = [unitProbe('kubelet.service', host), unitProbe('nodeadm-run.service', host), kubeletHealthzProbe(closed, host)];
  const { mem, deps } = gateDeps(600);
  const err = await waitUntilReady(probes, deps).catch((e: unknown) => e);
  t.match(err, { exitCode: 3, name: 'NotReady' });
  t.match(
    (err as Error).message,
    /^not ready after 600ms: kubelet\.service: failed\/failed \(Result=exit-code\) \(last \d+s ago\); nodeadm-run\.service: not found \(LoadState=not-found\) \(last \d+s ago\); kubelet healthz: connection refused \(last \d+s ago\)$/,
  );
  t.ok(mem.records.some((r) => r.level === 'warn' && r.msg === 'readiness: kubelet.service: failed/failed (Result=exit-code)'), 'a failed unit is a warning');
});

t.test('a flapping unit never counts as ready until it settles', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('kubelet.service', { activeState: 'activating', subState: 'start' });
  const host = hostFor(t, s);
  const stopFlap = s.flap('kubelet.service', [['activating', 'start'], ['failed', 'failed'], ['activating', 'auto-restart']], 10);
  const { mem, deps } = gateDeps(30_000);
  let ready = false;
  const gate = waitUntilReady([unitProbe('kubelet.service', host)], deps).then(() => (ready = true));
  await new Promise((r) => setTimeout(r, 400));
  t.notOk(ready, 'not ready while it flaps');
  t.ok(mem.messages().some((m) => m.startsWith('readiness: kubelet.service: failed/failed')), 'each flap is observed');
  stopFlap();
  s.setState('kubelet.service', 'active');
  await gate;
  t.ok(ready);
});

t.test('a missing bus: the unit probe reports it and the gate ends with exit 3, no crash', async (t) => {
  const dir = await tempDir('nobus');
  t.teardown(() => removeDir(dir));
  const address = `unix:path=${join(dir, 'system_bus_socket')}`;
  const host = createHost({ connectSystemd: () => connectSystemd({ address }) });
  t.teardown(() => host.close());
  const { deps } = gateDeps(500);
  const err = await waitUntilReady([unitProbe('kubelet.service', host, { pollIntervalMs: 100 })], deps).catch((e: unknown) => e);
  t.match((err as Error).message, `not ready after 500ms: kubelet.service: system bus unreachable: cannot connect to the system bus at ${address}: connect ENOENT`);
});

t.test('the bus dropping mid-wait: polling takes over, and the deadline says what happened', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('kubelet.service', { activeState: 'activating', subState: 'start' });
  const host = hostFor(t, s);
  const { mem, deps } = gateDeps(1500);
  const gate = waitUntilReady([unitProbe('kubelet.service', host, { pollIntervalMs: 100 })], deps).catch((e: unknown) => e);
  await waitForMessage(mem, 'readiness: kubelet.service: activating/start');
  await s.dropBus();
  const err = await gate;
  t.match((err as Error).message, /^not ready after 1s500ms: kubelet\.service: system bus unreachable: cannot connect to the system bus at unix:path=.*: connect (ENOENT|ECONNREFUSED)/);
  t.ok(mem.messages().some((m) => /^readiness: kubelet\.service: system bus (connection at .* (failed|was closed)|unreachable)/.test(m)), 'the loss is logged when it happens');
});

t.test('a probe that throws is an observation; a slow probe does not hold up the others', async (t) => {
  const { mem, deps } = gateDeps(400);
  const throwing: Probe = {
    name: 'flaky',
    check: async () => {
      throw new Error('boom');
    },
  };
  const err = await waitUntilReady([throwing], deps).catch((e: unknown) => e);
  t.match((err as Error).message, /^not ready after 400ms: flaky: probe failed: boom \(last 0s ago\)$/);
  t.ok(mem.messages().includes('readiness: flaky: probe failed: boom'));

  // "slow" is ready at once, then every later check hangs for 5 s; "late" turns ready after 100 ms.
  let calls = 0;
  const slow: Probe = {
    name: 'slow',
    check: (signal) =>
      calls++ === 0
        ? Promise.resolve({ ready: true, detail: 'ok' })
        : new Promise((resolve) => {
            const timer = setTimeout(() => resolve({ ready: true, detail: 'ok' }), 5000);
            signal.addEventListener('abort', () => clearTimeout(timer));
          }),
  };
  const readyAt = Date.now() + 100;
  const late: Probe = { name: 'late', check: async () => ({ ready: Date.now() >= readyAt, detail: Date.now() >= readyAt ? 'ok' : 'not yet' }) };
  const t0 = Date.now();
  await waitUntilReady([slow, late], gateDeps(30_000).deps);
  t.ok(Date.now() - t0 < 4000, `ready after ${Date.now() - t0} ms, not after the slow probe's 5 s`);
});

t.test('SIGTERM (the stop signal) ends the wait as a stop (exit 1), not as "not ready", naming what was still not ready', async (t) => {
  const ctl = new AbortController();
  const { deps } = gateDeps(30_000, ctl.signal);
  const p: Probe = { name: 'never', check: async () => ({ ready: false, detail: 'nope' }) };
  setTimeout(() => ctl.abort(StopReason.signal('SIGTERM')), 100);
  await t.rejects(waitUntilReady([p], deps), { name: 'Stopped', exitCode: 1, message: /^stopped by SIGTERM while waiting for readiness; still not ready: never: nope/ });
});

async function waitForMessage(mem: { messages(): string[] }, msg: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!mem.messages().includes(msg)) {
    if (Date.now() > end) throw new Error(`no log line "${msg}"; got:\n${mem.messages().join('\n')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nothing listens on: listen, read it, close. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}
