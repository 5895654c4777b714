// The client and the Node writes against the Kubernetes API stand-in over real HTTPS: token, client-certificate
// and exec-plugin users, CA file and CA data; errors classified as the reporter needs them; the patches the
// real server would merge by condition type; events the real server accepts.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createKubeClient, KubeApiError, type KubeClient } from '../../../src/host/kube/api-client.js';
import { readKubeconfig } from '../../../src/host/kube/kubeconfig.js';
import { coreV1Event, createEvent, eventName, getNode, patchNodeLabel, patchNodeStatusCondition, type NodeEvent } from '../../../src/host/kube/node-api.js';
import { startKubeApiServer, type KubeStandIn } from '../../emulators/kube-apiserver.js';
import { execPlugin } from '../../helpers/exec-plugins.js';

const NODE = 'ip-10-0-1-23.us-west-2.compute.internal';
let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
  api.addNode(NODE);
  api.addNode('ip-10-0-9-9.us-west-2.compute.internal');
});
t.teardown(() => api.stop());

const o = (timeoutMs = 5000) => ({ signal: new AbortController().signal, timeoutMs });
const client = async (opts: Parameters<KubeStandIn['writeKubeconfig']>[0]): Promise<KubeClient> => createKubeClient(await readKubeconfig(await api.writeKubeconfig(opts)));
const condition = (status: 'True' | 'False', reason: string) => ({
  type: 'postjoin.io/Ready',
  status,
  reason,
  message: `m ${reason}`,
  lastTransitionTime: '2026-01-01T00:00:00Z',
  lastHeartbeatTime: '2026-01-01T00:00:00Z',
});
const types = (n: { status?: { conditions?: { type?: string }[] } }) => (n.status?.conditions ?? []).map((c) => c.type).sort();

t.test('each kind of user reads its Node: token with CA file, token with CA data, client certificate (files and data)', async (t) => {
  for (const opts of [{ user: 'token' }, { user: 'token', caData: true }, { user: 'cert' }, { user: 'cert', caData: true }] as const) {
    const c = await client({ ...opts, nodeName: NODE });
    const node = await getNode(c, NODE, o());
    t.equal(node.metadata.name, NODE, JSON.stringify(opts));
    t.match(node.metadata.uid, /^[0-9a-f-]{36}$/);
    t.equal(api.requests.at(-1)?.user, `system:node:${NODE}`, 'the server saw the node identity');
  }
});

t.test('an exec plugin user (v1beta1 and v1); a 401 runs the plugin again once', async (t) => {
  for (const apiVersion of ['client.authentication.k8s.io/v1beta1', 'client.authentication.k8s.io/v1']) {
    const token = api.tokenFor(NODE);
    // The first token is stale (as an expired aws eks get-token one would be); the second is the node's.
    const plugin = await execPlugin({ kind: 'token', token: new Function('n', `return n === 1 ? 'stale' : ${JSON.stringify(token)}`) as (n: number) => string, expiresInS: 900 });
    const c = await client({ user: 'exec', exec: { command: plugin.command, args: ['eks', 'get-token', '--cluster-name', 'standin'], apiVersion } });
    const node = await getNode(c, NODE, o());
    t.equal(node.metadata.name, NODE, apiVersion);
    t.equal((await plugin.calls()).length, 2, 'ran again after the 401');
    t.same(api.requests.slice(-2).map((r) => r.status), [401, 200]);
    await getNode(c, NODE, o());
    t.equal((await plugin.calls()).length, 2, 'then cached');
  }
  const wrong = await execPlugin({ kind: 'token', token: 'never-valid' });
  const c = await client({ user: 'exec', exec: { command: wrong.command } });
  const err = await getNode(c, NODE, o()).catch((e: unknown) => e);
  t.match(err, { status: 401, retryable: false, message: /HTTP 401 Unauthorized: Unauthorized \(also with a fresh credential\); the node's credential was refused/ });
  t.equal((await wrong.calls()).length, 2, 'one fresh credential, not more');
});

t.test('a static token the server refuses is a 401 at once, not worth retrying', async (t) => {
  const c = await client({ user: 'token', token: 'not-a-token' });
  await t.rejects(getNode(c, NODE, o()), { status: 401, retryable: false, message: /HTTP 401 Unauthorized/ });
});

t.test('a server whose certificate the kubeconfig does not vouch for is refused, not retried', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-kc-'));
  const path = join(dir, 'kubeconfig');
  // No CA: the system roots, which do not know the stand-in's CA.
  await writeFile(path, `apiVersion: v1\ncurrent-context: c\ncontexts: [{ name: c, context: { cluster: k, user: u } }]\nclusters: [{ name: k, cluster: { server: "${api.url}" } }]\nusers: [{ name: u, user: { token: "${api.tokenFor(NODE)}" } }]\n`);
  const err = await getNode(createKubeClient(await readKubeconfig(path)), NODE, o()).catch((e: unknown) => e);
  t.match(err, { retryable: false, message: /TLS: .*certificate.*check the kubeconfig's certificate-authority/ });
  const named = await readKubeconfig(await api.writeKubeconfig({ user: 'token', nodeName: NODE }));
  const err2 = await getNode(createKubeClient({ ...named, tlsServerName: 'not-the-server.example' }), NODE, o()).catch((e: unknown) => e);
  t.match(err2, { retryable: false, message: /ERR_TLS_CERT_ALTNAME_INVALID/ });
});

t.test('errors are classified: 404 Node retryable (not registered yet), 403 with the server message, 5xx and 429 retryable', async (t) => {
  const c = await client({ user: 'token', nodeName: NODE });
  await t.rejects(getNode(c, 'ip-10-0-0-404.us-west-2.compute.internal', o()), { status: 404, retryable: true, message: /not found \(not registered yet/ });
  const other = await patchNodeStatusCondition(c, 'ip-10-0-9-9.us-west-2.compute.internal', condition('True', 'Succeeded'), o()).catch((e: unknown) => e);
  t.match(other, { status: 403, retryable: false, message: /HTTP 403 Forbidden: nodes "ip-10-0-9-9.us-west-2.compute.internal" is forbidden: node "ip-10-0-1-23.us-west-2.compute.internal" is not allowed to modify node "ip-10-0-9-9/ });
  api.failNext(1, 503);
  await t.rejects(getNode(c, NODE, o()), { status: 503, retryable: true, message: /HTTP 503 ServiceUnavailable/ });
  api.failNext(1, 429);
  await t.rejects(getNode(c, NODE, o()), { status: 429, retryable: true, retryAfterMs: 1000, message: /HTTP 429 TooManyRequests/ });
  t.equal((await getNode(c, NODE, o())).metadata.name, NODE, 'and then it answers');
});

t.test('a hanging server is cut at the request timeout; a closed port is refused; both retryable', async (t) => {
  const c = await client({ user: 'token', nodeName: NODE });
  await api.mode('hang');
  const started = Date.now();
  await t.rejects(getNode(c, NODE, o(800)), { retryable: true, message: /no answer within 800ms/ });
  t.ok(Date.now() - started < 800 + 1000, 'cut at the timeout');
  await api.mode('closed');
  await t.rejects(getNode(c, NODE, o()), { retryable: true, message: /connection refused/ });
  const ctl = new AbortController();
  await api.mode('hang');
  const pending = getNode(c, NODE, { signal: ctl.signal, timeoutMs: 60_000 }).catch((e: unknown) => e);
  setTimeout(() => ctl.abort(new Error('the run was stopped')), 100);
  t.match(await pending, { aborted: true, retryable: false, message: /dropped: the run was stopped/ });
  await api.mode('ok');
});

t.test('no socket outlives a request (no idle keep-alive connection)', async (t) => {
  const c = await client({ user: 'token', nodeName: NODE });
  await getNode(c, NODE, o());
  await patchNodeLabel(c, NODE, 'postjoin.io/result', 'succeeded', o());
  await new Promise((r) => setTimeout(r, 50));
  const sockets = process.getActiveResourcesInfo().filter((r) => /TLS|TCPSocket/i.test(r));
  t.same(sockets, [], 'no TLS or TCP socket left open by the client');
});

t.test("the condition is a strategic merge patch on nodes/status: the kubelet's conditions stay, ours is one", async (t) => {
  const c = await client({ user: 'token', nodeName: NODE });
  const before = api.node(NODE).status.conditions.filter((x: { type: string }) => x.type !== 'postjoin.io/Ready');
  await patchNodeStatusCondition(c, NODE, condition('False', 'Running'), o());
  const after = await patchNodeStatusCondition(c, NODE, condition('True', 'Succeeded'), o());
  t.same(types(after), ['DiskPressure', 'MemoryPressure', 'PIDPressure', 'Ready', 'postjoin.io/Ready']);
  t.same(after.status?.conditions?.filter((x) => x.type !== 'postjoin.io/Ready'), before, "the kubelet's conditions are untouched");
  t.match(after.status?.conditions?.find((x) => x.type === 'postjoin.io/Ready'), { status: 'True', reason: 'Succeeded' });
  const patch = api.requests.filter((r) => r.method === 'PATCH' && r.path === `/api/v1/nodes/${NODE}/status`).at(-1);
  t.equal(patch?.contentType, 'application/strategic-merge-patch+json');
  t.same(patch?.body, { status: { conditions: [condition('True', 'Succeeded')] } });
  api.kubeletHeartbeat(NODE);
  t.match(
    api.node(NODE).status.conditions.find((x: { type: string }) => x.type === 'postjoin.io/Ready'),
    { status: 'True', reason: 'Succeeded' },
    "the kubelet's heartbeat after ours keeps ours",
  );
});

t.test('the label is the node\'s own; the server (NodeRestriction) would refuse a kubernetes.io one', async (t) => {
  const c = await client({ user: 'cert', nodeName: NODE });
  const n = await patchNodeLabel(c, NODE, 'postjoin.io/result', 'failed', o());
  t.equal(n.metadata.labels?.['postjoin.io/result'], 'failed');
  t.equal(n.metadata.labels?.['kubernetes.io/hostname'], NODE, 'other labels stay');
  await t.rejects(patchNodeLabel(c, NODE, 'node-role.kubernetes.io/worker', 'x', o()), { status: 403, retryable: false, message: /HTTP 403 Forbidden: .*node-role\.kubernetes\.io\/worker/ });
});

const event = (node = NODE, time = new Date()): NodeEvent => ({ node, type: 'Warning', reason: 'PostjoinTaskFailed', message: 'task "a" failed: exit 1', time });

t.test("a core/v1 event the real server accepts from a node, shaped as client-go's recorder makes the kubelet's", async (t) => {
  const c = await client({ user: 'token', nodeName: NODE });
  const time = new Date('2026-12-03T15:30:22.449Z');
  const name = eventName(NODE, time, 123_456_789n);
  await createEvent(c, event(NODE, time), name, o());
  t.match(api.requests.at(-1), { method: 'POST', path: '/api/v1/namespaces/default/events', status: 201, user: `system:node:${NODE}` }, 'the core group, the only one NodeRules() opens to a node');
  t.equal(name, `${NODE}.${(1796311822449n * 1_000_000n + 456_789n).toString(16)}`, '<node>.<hex nanoseconds>, as tools/record names events');
  t.match(api.events().at(-1), {
    metadata: { namespace: 'default', name },
    regarding: { kind: 'Node', name: NODE, uid: NODE },
    reason: 'PostjoinTaskFailed',
    note: 'task "a" failed: exit 1',
    type: 'Warning',
    deprecatedSource: { component: 'postjoin.io/postjoin', host: NODE },
    reportingController: 'postjoin.io/postjoin',
    reportingInstance: NODE,
    deprecatedFirstTimestamp: '2026-12-03T15:30:22Z',
    deprecatedLastTimestamp: '2026-12-03T15:30:22Z',
    deprecatedCount: 1,
    eventTime: null,
  });
  t.notOk('action' in coreV1Event(event(), name), 'no action and no eventTime: the legacy rules, as the kubelet\'s events');
});

t.test('a retried POST that had landed finds its own event (409 AlreadyExists) and is done; no second event', async (t) => {
  const c = await client({ user: 'token', nodeName: NODE });
  const time = new Date();
  const name = eventName(NODE, time);
  const before = api.events().length;
  await createEvent(c, event(NODE, time), name, o());
  await createEvent(c, event(NODE, time), name, o());
  t.equal(api.events().length, before + 1, 'one event');
  t.match(api.requests.at(-1), { method: 'POST', status: 409 });
  t.not(eventName(NODE, time, 1n), eventName(NODE, time, 2n), 'two events in one millisecond get two names (the monotonic clock\'s nanoseconds)');
});

t.test('a node name of any length gives a valid event: reportingInstance is cut to 128 characters', async (t) => {
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.us-west-2.compute.internal`;
  const c = await client({ user: 'token', nodeName: NODE });
  const body = coreV1Event(event(long), eventName(long, new Date()));
  t.equal(String(body.reportingInstance).length, 128);
  await c.request({ method: 'POST', path: '/api/v1/namespaces/default/events', body, ...o() });
  t.match(api.events().at(-1), { regarding: { name: long }, deprecatedSource: { host: long } });
  // With an eventTime the server holds a core/v1 event to the reporting rules, reportingInstance <= 128 among them.
  await c.request({ method: 'POST', path: '/api/v1/namespaces/default/events', body: { ...body, metadata: { name: `${long}.x` }, eventTime: '2026-12-03T10:00:00.123456Z', action: 'Run' }, ...o() });
});

t.test('any other refusal is the caller\'s error, with the server\'s words', async (t) => {
  const c = await client({ user: 'token', nodeName: NODE });
  await t.rejects(createEvent(c, event(), 'bad/name', o()), { status: 422, retryable: false, message: /metadata\.name: Invalid value: "bad\/name": may not contain '\/'/ });
});

t.test('a tokenFile is read for each request, so a rotated token is picked up', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-token-'));
  const file = join(dir, 'token');
  await writeFile(file, 'stale\n');
  const access = await readKubeconfig(await api.writeKubeconfig({ user: 'token', nodeName: NODE }));
  const c = createKubeClient({ ...access, user: { tokenFile: file } });
  await t.rejects(getNode(c, NODE, o()), { status: 401, message: /also with a fresh credential/ }, 'read again after the 401, still stale');
  await writeFile(file, `${api.tokenFor(NODE)}\n`);
  t.equal((await getNode(c, NODE, o())).metadata.name, NODE, 'the rotated token, without a new client');
  const gone = createKubeClient({ ...access, user: { tokenFile: join(dir, 'absent') } });
  await t.rejects(getNode(gone, NODE, o()), { retryable: false, message: /tokenFile: cannot read .*absent/ });
});

t.test('an answer larger than 4 MiB is refused, not buffered', async (t) => {
  const { makeKubePki } = await import('../../helpers/kube-pki.js');
  const { createServer } = await import('node:https');
  const pki = makeKubePki(await mkdtemp(join(tmpdir(), 'postjoin-pki-')));
  const big = Buffer.alloc(1024 * 1024, 'x');
  const server = createServer({ key: pki.server.keyPem, cert: pki.server.certPem }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    let sent = 0;
    const more = () => {
      while (sent < 64 && res.write(big)) sent++;
      if (sent < 64) res.once('drain', more);
      else res.end();
    };
    more();
  });
  server.on('error', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const c = createKubeClient({ path: 'test', server: `https://127.0.0.1:${port}`, ca: Buffer.from(pki.caPem), user: { token: 't' } });
  await t.rejects(getNode(c, NODE, o()), { retryable: false, message: /the answer is larger than 4194304 bytes/ });
});
