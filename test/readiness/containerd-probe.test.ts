// The containerd readiness probe: CRI RuntimeService/Status over gRPC, against a real containerd and against a
// small grpc-js server for the states a healthy containerd never shows (RuntimeReady=false, no CRI plugin).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { boolField, messageField, stringField } from '../../src/host/containerd/protobuf-wire.js';
import { createHost, type Host } from '../../src/host/host.js';
import { containerdProbe } from '../../src/readiness/containerd-probe.js';
import { probesFor, waitUntilReady } from '../../src/readiness/gate.js';
import { requireRootAndBins, startContainerd } from '../harness/index.js';
import { memoryLogger } from '../helpers/memory-log.js';
import { config } from '../helpers/plan.js';

const never = new AbortController().signal;

/** The run's Host, whose containerd channel the probe uses; closed with the test. */
function hostFor(t: { teardown(fn: () => unknown): void }): Host {
  const host = createHost();
  t.teardown(() => host.close());
  return host;
}

interface Condition {
  type: string;
  status: boolean;
  reason?: string;
  message?: string;
}

/** A CRI RuntimeService that answers Status with these conditions (or, with none given, serves nothing at all). */
async function fakeCri(socket: string, conditions?: Condition[]): Promise<grpc.Server> {
  const server = new grpc.Server();
  if (conditions) {
    const raw = (b: Buffer) => b;
    const body = messageField(1, [
      Buffer.concat(conditions.map((c) => messageField(1, [stringField(1, c.type), boolField(2, c.status), stringField(3, c.reason), stringField(4, c.message)]))),
    ]);
    server.addService(
      { Status: { path: '/runtime.v1.RuntimeService/Status', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
      { Status: (_call: unknown, done: (err: null, res: Buffer) => void) => done(null, body) },
    );
  }
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return server;
}

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'postjoin-probe-'));
}

t.test('real containerd: RuntimeReady=true is ready; NetworkReady=false is reported, not required', async (t) => {
  if (!(await requireRootAndBins(t, { containerd: 'containerd', ctr: 'containerd' }))) return;
  const ctd = await startContainerd();
  t.teardown(ctd.stop);
  const probe = containerdProbe(ctd.socket, hostFor(t));
  t.teardown(() => probe.close?.());
  const o = await probe.check(never);
  t.equal(o.ready, true);
  t.match(o.detail, /^RuntimeReady=true, NetworkReady=false \(reason NetworkPluginNotReady: .*cni/);
});

t.test('no socket, or a socket nobody listens on, says so with the path', async (t) => {
  const dir = await scratch();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const missing = join(dir, 'containerd.sock');
  const probe = containerdProbe(missing, hostFor(t));
  t.same(await probe.check(never), { ready: false, detail: `${missing}: no such socket` });

  // A socket file left behind by a killed daemon: connect() is refused.
  const stale = join(dir, 'stale.sock');
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await new Promise((resolve) => child.on('exit', resolve));
  t.ok((await stat(stale)).isSocket(), 'the stale socket file is there');
  const refused = containerdProbe(stale, hostFor(t));
  t.same(await refused.check(never), { ready: false, detail: `${stale}: connection refused` });
  await probe.close?.();
  await refused.close?.();
});

t.test('RuntimeReady=false is not ready, with its reason; a server without CRI is named', async (t) => {
  const dir = await scratch();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sock = join(dir, 'cri.sock');
  const server = await fakeCri(sock, [
    { type: 'RuntimeReady', status: false, reason: 'RuntimeNotReady', message: 'runc not found' },
    { type: 'NetworkReady', status: true },
  ]);
  const probe = containerdProbe(sock, hostFor(t));
  t.same(await probe.check(never), { ready: false, detail: 'RuntimeReady=false (reason RuntimeNotReady: runc not found), NetworkReady=true' });
  await probe.close?.();
  server.forceShutdown();

  const bare = join(dir, 'bare.sock');
  const noCri = await fakeCri(bare);
  t.teardown(() => noCri.forceShutdown());
  const p2 = containerdProbe(bare, hostFor(t));
  t.match(await p2.check(never), { ready: false, detail: `${bare}: answers, but does not serve CRI runtime.v1`, severity: 'warn' });
  await p2.close?.();
  const empty = join(dir, 'empty.sock');
  const none = await fakeCri(empty, [{ type: 'NetworkReady', status: true }]);
  t.teardown(() => none.forceShutdown());
  const p3 = containerdProbe(empty, hostFor(t));
  t.same(await p3.check(never), { ready: false, detail: 'RuntimeReady not reported, NetworkReady=true' });
  await p3.close?.();
});

t.test('the gate waits for a containerd that starts late, and names it when it never does', async (t) => {
  t.equal(probesFor(config()).length, 0, 'readiness.containerd: false adds no probe');
  const sock = join(await scratch(), 'late.sock');
  const cfg = config({ containerd: { socket: sock }, readiness: { units: [], kubeletHealthz: null, containerd: true } });
  t.same(probesFor(cfg).map((p) => p.name), ['containerd']);

  const mem = memoryLogger();
  const deps = { log: mem.log, notify: { status() {}, flush: async () => {} }, stop: never, timeoutMs: 15_000 };
  let server: grpc.Server | undefined;
  const late = setTimeout(() => void fakeCri(sock, [{ type: 'RuntimeReady', status: true }]).then((s) => (server = s)), 400);
  t.teardown(() => {
    clearTimeout(late);
    server?.forceShutdown();
  });
  const t0 = Date.now();
  await waitUntilReady(probesFor(cfg), deps);
  t.ok(Date.now() - t0 < 5_000, `ready ${Date.now() - t0} ms after the wait began: no reconnect backoff in the way`);
  t.ok(mem.messages().includes(`readiness: containerd: ${sock}: no such socket`));
  t.ok(mem.messages().includes('readiness: containerd: RuntimeReady=true, NetworkReady not reported'));

  const gone = join(await scratch(), 'never.sock');
  const never2 = config({ containerd: { socket: gone }, readiness: { units: [], kubeletHealthz: null, containerd: true } });
  await t.rejects(waitUntilReady(probesFor(never2), { ...deps, timeoutMs: 300 }), { exitCode: 3, message: new RegExp(`^not ready after 300ms: containerd: ${gone}: no such socket`) });
});
