// The Kubernetes API stand-in (test/emulators/kube-apiserver.ts) checked with the real kubectl, so that what the
// product's tests prove against it is not only what our own client believes a server does. Where kubectl cannot
// reach a case (a node identity's status write, an apply without fieldManager), a plain HTTPS request does.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import t from 'tap';
import { removeDir, requireReal, run, tempDir, which } from '../harness/index.js';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import type { CertPair } from '../helpers/kube-pki.js';
import { karpenterKubelet, UNREGISTERED, type NodeClaim } from '../emulators/kube-karpenter.js';

const ready =
  (await requireReal(t, 'kubectl', async () => !!(await which('kubectl')), 'apt-get install -y kubectl (pkgs.k8s.io)')) &&
  (await requireReal(t, 'python3 (holds the closed port)', async () => !!(await which('python3')), 'apt-get install -y python3'));
const skip = ready ? false : 'kubectl or python3 is missing';

const home = await tempDir('kubectl');
let s!: KubeStandIn;
let admin = '';
let asN1 = '';
let asN3 = '';
let n1 = { token: '' };
if (ready) {
  s = await startKubeApiServer();
  s.addNode('n1');
  s.addNode('n2', { labels: { pool: 'gpu' } });
  s.addNode('n3', { taints: [{ key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' }] });
  admin = await s.writeKubeconfig({ user: 'admin' });
  asN1 = await s.writeKubeconfig({ user: 'token', nodeName: 'n1' });
  asN3 = await s.writeKubeconfig({ user: 'token', nodeName: 'n3' });
  n1 = { token: s.tokenFor('n1') };
}
t.teardown(async () => {
  await s?.stop();
  await removeDir(home);
});

// kubectl with its own HOME (its discovery cache goes there) and only the kubeconfig we give it.
const kubectl = (kc: string, ...args: string[]) => run('kubectl', ['--kubeconfig', kc, ...args], { env: { ...process.env, HOME: home, KUBECONFIG: kc }, timeoutMs: 30_000 });
const conditionTypes = (name: string): string[] => s.node(name).status.conditions.map((c: { type: string }) => c.type);
const KUBELET = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'];

/** One HTTPS request as a node's own client would send it. */
function api(method: string, path: string, o: { token?: string; cert?: CertPair; body?: unknown; type?: string } = {}): Promise<{ status: number; body: any }> {
  const payload = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (payload !== undefined) headers['content-type'] = o.type ?? 'application/json';
  return new Promise((resolve, reject) => {
    const req = https.request(`${s.url}${path}`, { method, headers, ca: s.caPem, cert: o.cert?.certPem, key: o.cert?.keyPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
const postjoin = (status: string, reason: string, message = '') => ({ type: 'postjoin.io/Ready', status, reason, message });

t.test('kubectl authenticates with a node token, a client certificate, an exec plugin; a bad credential is 401', { skip }, async (t) => {
  const script = join(home, 'get-token.sh');
  const cred = { apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: s.tokenFor('n1') } };
  await writeFile(script, `#!/bin/sh\necho '${JSON.stringify(cred)}'\n`);
  await chmod(script, 0o755);
  const configs = {
    token: asN1,
    cert: await s.writeKubeconfig({ user: 'cert', nodeName: 'n1', caData: true }),
    exec: await s.writeKubeconfig({ user: 'exec', exec: { command: script } }),
  };
  for (const [how, kc] of Object.entries(configs)) {
    const r = await kubectl(kc, 'auth', 'whoami', '-o', 'json');
    t.equal(r.code, 0, `${how}: ${r.stderr}`);
    t.match(JSON.parse(r.stdout).status.userInfo, { username: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] }, how);
  }
  t.equal(JSON.parse((await kubectl(admin, 'auth', 'whoami', '-o', 'json')).stdout).status.userInfo.username, 'kubernetes-admin');
  const bad = [
    await s.writeKubeconfig({ user: 'token', token: 'not-a-token' }),
    await s.writeKubeconfig({ user: 'cert', cert: s.clientCert('system:node:n1', ['system:nodes'], true) }),
  ];
  for (const kc of bad) {
    const r = await kubectl(kc, 'get', 'nodes');
    t.equal(r.code, 1);
    t.match(r.stderr, 'error: You must be logged in to the server (the server has asked for the client to provide credentials)');
  }
  const anonymous = await api('GET', '/api/v1/nodes');
  t.same([anonymous.status, anonymous.body.reason], [401, 'Unauthorized'], 'no credentials: 401 with a Status');
});

t.test('kubectl get nodes: table, JSON, label and field selectors, custom columns', { skip }, async (t) => {
  const table = await kubectl(asN1, 'get', 'nodes');
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n/);
  t.match(table.stdout, /^n1\s+Ready\s+<none>\s+\d+s\s+v1\.32\.0-eks-\w+$/m);
  const json = JSON.parse((await kubectl(asN1, 'get', 'nodes', '-o', 'json')).stdout);
  t.same(json.items.map((n: any) => n.metadata.name), ['n1', 'n2', 'n3']);
  t.not(json.items[0].metadata.uid, json.items[1].metadata.uid, 'a uid per node');
  const names = async (...args: string[]) => (await kubectl(asN1, 'get', 'nodes', '-o', 'name', ...args)).stdout.trim().split('\n').filter(Boolean);
  t.same(await names('-l', 'pool=gpu'), ['node/n2']);
  t.same(await names('-l', 'pool!=gpu'), ['node/n1', 'node/n3']);
  t.same(await names('-l', 'pool'), ['node/n2']);
  t.same(await names('-l', '!pool'), ['node/n1', 'node/n3']);
  t.same(await names('-l', 'pool in (cpu,gpu)'), ['node/n2']);
  t.same(await names('--field-selector', 'metadata.name=n3'), ['node/n3']);
  const badField = await kubectl(asN1, 'get', 'nodes', '--field-selector', 'status.phase=Running');
  t.match(badField.stderr, 'field label not supported: status.phase');
  await api('PATCH', '/api/v1/nodes/n1/status', { ...n1, type: 'application/strategic-merge-patch+json', body: { status: { conditions: [postjoin('False', 'Running')] } } });
  const cols = await kubectl(asN1, 'get', 'nodes', '-o', 'custom-columns=NAME:.metadata.name,POSTJOIN:.status.conditions[?(@.type=="postjoin.io/Ready")].reason');
  t.equal(cols.stdout, 'NAME   POSTJOIN\nn1     Running\nn2     <none>\nn3     <none>\n');
});

t.test('status: strategic merge merges conditions by type, merge patch replaces the list, JSON patch appends', { skip }, async (t) => {
  // The node may patch nodes/status but not GET it (bootstrap policy NodeRules), and kubectl patch GETs first.
  const asNode = await kubectl(asN1, 'patch', 'node', 'n1', '--subresource=status', '--type=strategic', '-p', JSON.stringify({ status: { conditions: [postjoin('True', 'Succeeded')] } }));
  t.equal(asNode.code, 1);
  t.match(asNode.stderr, 'nodes "n1" is forbidden: User "system:node:n1" cannot get resource "nodes/status" in API group "" at the cluster scope');
  t.equal((await kubectl(asN1, 'auth', 'can-i', 'patch', 'nodes', '--subresource=status')).stdout.trim(), 'yes');
  t.equal((await kubectl(asN1, 'auth', 'can-i', 'get', 'nodes', '--subresource=status')).stdout.trim(), 'no');

  const direct = await api('PATCH', '/api/v1/nodes/n1/status', { ...n1, type: 'application/strategic-merge-patch+json', body: { status: { conditions: [postjoin('True', 'Succeeded', '3 tasks')] } } });
  t.equal(direct.status, 200);
  t.same(conditionTypes('n1'), [...KUBELET, 'postjoin.io/Ready'], 'the node\'s strategic patch keeps the kubelet\'s conditions');
  t.match(s.requests.at(-1), { method: 'PATCH', path: '/api/v1/nodes/n1/status', contentType: 'application/strategic-merge-patch+json', user: 'system:node:n1', status: 200 });

  const patch = (type: string, p: unknown) => kubectl(admin, 'patch', 'node', 'n2', '--subresource=status', `--type=${type}`, '-p', JSON.stringify(p));
  t.equal((await patch('strategic', { status: { conditions: [postjoin('True', 'Succeeded')] } })).code, 0);
  t.same(conditionTypes('n2'), [...KUBELET, 'postjoin.io/Ready']);
  t.equal((await patch('merge', { status: { conditions: [postjoin('True', 'Succeeded')] } })).code, 0);
  t.same(conditionTypes('n2'), ['postjoin.io/Ready'], 'a JSON merge patch replaces the whole list: the kubelet\'s conditions are gone');
  t.match((await kubectl(admin, 'get', 'node', 'n2')).stdout, /^n2\s+Unknown\s/m, 'no Ready condition: STATUS Unknown');
  s.kubeletHeartbeat('n2');
  t.same(conditionTypes('n2'), ['postjoin.io/Ready', ...KUBELET], 'the kubelet puts its conditions back and keeps postjoin\'s');
  t.equal((await patch('json', [{ op: 'add', path: '/status/conditions/-', value: { type: 'example.com/Extra', status: 'True' } }])).code, 0);
  t.same(conditionTypes('n2'), ['postjoin.io/Ready', ...KUBELET, 'example.com/Extra'], 'JSON patch "-" appends');
  const failedTest = await patch('json', [{ op: 'test', path: '/metadata/name', value: 'other' }]);
  t.match(failedTest.stderr, 'testing value /metadata/name failed');

  const before = s.node('n1').status.conditions.find((c: any) => c.type === 'postjoin.io/Ready');
  s.kubeletHeartbeat('n1');
  t.same(s.node('n1').status.conditions.find((c: any) => c.type === 'postjoin.io/Ready'), before, 'a kubelet heartbeat leaves postjoin\'s condition as it was');
});

t.test('strategic merge directives as kubectl passes them through', { skip }, async (t) => {
  const patch = async (p: unknown, ...more: string[]) => {
    const r = await kubectl(admin, 'patch', 'node', 'n2', '--type=strategic', '-p', JSON.stringify(p), ...more);
    t.equal(r.code, 0, `${JSON.stringify(p)}: ${r.stderr}`);
  };
  const meta = () => s.node('n2').metadata;
  await patch({ metadata: { finalizers: ['example.com/a', 'example.com/b'] } });
  await patch({ metadata: { finalizers: ['example.com/c'] } });
  t.same(meta().finalizers, ['example.com/a', 'example.com/b', 'example.com/c'], 'finalizers merge as a set (patchStrategy merge)');
  await patch({ metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/a', 'example.com/c'] } });
  t.same(meta().finalizers, ['example.com/b']);
  await patch({ metadata: { annotations: { $patch: 'replace', only: 'this' } } });
  t.same(meta().annotations, { only: 'this' }, '$patch: replace on a map');
  await patch({ metadata: { annotations: { $retainKeys: ['only', 'second'], second: '2' } } });
  t.same(meta().annotations, { only: 'this', second: '2' });
  await patch({ metadata: { annotations: { second: null } } });
  t.same(meta().annotations, { only: 'this' }, 'null deletes a key');

  const types = conditionTypes('n2');
  await patch({ status: { conditions: [{ type: 'example.com/Extra', $patch: 'delete' }] } }, '--subresource=status');
  t.same(conditionTypes('n2'), types.filter((x) => x !== 'example.com/Extra'), '$patch: delete removes one element by its merge key');
  const reversed = conditionTypes('n2').reverse();
  await patch({ status: { '$setElementOrder/conditions': reversed.map((type) => ({ type })), conditions: [{ type: 'Ready', message: 'reordered' }] } }, '--subresource=status');
  t.same(conditionTypes('n2'), reversed, '$setElementOrder sets the order');
  await patch({ status: { conditions: [{ $patch: 'replace' }, { type: 'Ready', status: 'True' }] } }, '--subresource=status');
  t.same(conditionTypes('n2'), ['Ready'], '$patch: replace on a list');
  const noKey = await kubectl(admin, 'patch', 'node', 'n2', '--subresource=status', '--type=strategic', '-p', '{"status":{"conditions":[{"status":"True"}]}}');
  t.match(noKey.stderr, 'does not contain declared merge key: type');
  const taintsMerge = await kubectl(admin, 'patch', 'node', 'n2', '--type=strategic', '-p', '{"spec":{"taints":[{"key":"a","effect":"NoSchedule"}]}}');
  t.equal(taintsMerge.code, 0);
  await patch({ spec: { taints: [{ key: 'b', effect: 'NoExecute' }] } });
  t.same(s.node('n2').spec.taints, [{ key: 'b', effect: 'NoExecute' }], 'spec.taints has no patch strategy: a strategic patch replaces it');
  await patch({ spec: { taints: null } });
  s.kubeletHeartbeat('n2');
  t.same(conditionTypes('n2'), ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'], 'the kubelet re-adds what it misses');
});

t.test('NodeRestriction: a node labels itself, but not with kubernetes.io labels, never taints, never another node', { skip }, async (t) => {
  const ok = await kubectl(asN1, 'label', 'node', 'n1', 'postjoin.io/result=succeeded');
  t.equal(ok.code, 0, ok.stderr);
  t.equal(s.node('n1').metadata.labels['postjoin.io/result'], 'succeeded');
  t.equal((await kubectl(asN1, 'label', '--overwrite', 'node', 'n1', 'postjoin.io/result=failed')).code, 0);
  t.equal((await kubectl(asN1, 'label', 'node', 'n1', 'node.kubernetes.io/custom=yes')).code, 0, 'node.kubernetes.io/ is the kubelet\'s own');
  const refused: [string[], string][] = [
    [['label', 'node', 'n1', 'node-role.kubernetes.io/worker='], 'nodes "n1" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/worker'],
    [['label', 'node', 'n1', 'node-restriction.kubernetes.io/pool=a'], 'nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pool'],
    [['label', 'node', 'n1', 'example.k8s.io/x=y'], 'nodes "n1" is forbidden: is not allowed to modify labels: example.k8s.io/x'],
    [['taint', 'node', 'n1', 'a=b:NoSchedule'], 'nodes "n1" is forbidden: node "n1" is not allowed to modify taints'],
    [['label', 'node', 'n2', 'postjoin.io/result=succeeded'], 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'],
  ];
  for (const [args, message] of refused) {
    const r = await kubectl(asN1, ...args);
    t.equal(r.code, 1, args.join(' '));
    t.match(r.stderr, `Error from server (Forbidden): ${message}`, args.join(' '));
  }
  const untaint = await kubectl(asN3, 'taint', 'node', 'n3', 'readiness.k8s.io/postjoin-');
  t.match(untaint.stderr, 'node "n3" is not allowed to modify taints', 'a node cannot remove its own startup taint');
  const viaStatus = await api('PATCH', '/api/v1/nodes/n1/status', { ...n1, type: 'application/merge-patch+json', body: { spec: { taints: [] , unschedulable: true }, metadata: { labels: { 'node-role.kubernetes.io/x': '' } } } });
  t.equal(viaStatus.status, 403, 'admission sees labels through the status subresource too');
  const badValue = await api('PATCH', '/api/v1/nodes/n1', { ...n1, type: 'application/strategic-merge-patch+json', body: { metadata: { labels: { 'postjoin.io/result': 'not ok!' } } } });
  t.equal(badValue.status, 422);
  t.match(badValue.body.message, 'Node "n1" is invalid: metadata.labels: Invalid value: "not ok!": a valid label must be an empty string');
  t.equal(s.node('n3').spec.taints.length, 1, 'the taint is still there');
  t.equal((await kubectl(admin, 'taint', 'node', 'n3', 'readiness.k8s.io/postjoin-')).code, 0, 'an admin may remove it');
  t.notOk(s.node('n3').spec.taints, 'removed');
  const nodeTaintWrites = s.requests.filter((r) => r.user?.startsWith('system:node:') && r.status < 300 && JSON.stringify(r.body ?? '').includes('taints'));
  t.same(nodeTaintWrites, [], 'the record shows no accepted taint write by a node');
});

const validEvent = (over: Record<string, unknown> = {}) => ({
  apiVersion: 'events.k8s.io/v1',
  kind: 'Event',
  metadata: { generateName: 'n1-postjoin-' },
  eventTime: '2026-12-03T10:00:00.123456Z',
  reportingController: 'postjoin.io/postjoin',
  reportingInstance: 'postjoin-n1',
  action: 'Report',
  reason: 'Succeeded',
  note: 'postjoin: 3 tasks succeeded',
  type: 'Normal',
  regarding: { kind: 'Node', apiVersion: 'v1', name: 'n1', uid: s.node('n1').metadata.uid },
  ...over,
});

const adminToken = () => ({ token: s.adminToken });
const coreEvent = (node: string, over: Record<string, unknown> = {}) => {
  const now = new Date().toISOString();
  return {
    metadata: { name: `${node}.legacy` },
    involvedObject: { kind: 'Node', name: node, uid: node },
    reason: 'Started',
    message: `legacy event on ${node}`,
    source: { component: 'postjoin', host: node },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type: 'Normal',
    ...over,
  };
};

t.test('events: a node may create core/v1 events only (NodeRules), never events.k8s.io ones', { skip }, async (t) => {
  const newApi = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { ...n1, body: validEvent() });
  t.equal(newApi.status, 403, 'events.k8s.io is not in NodeRules()');
  t.equal(
    newApi.body.message,
    'events.events.k8s.io is forbidden: User "system:node:n1" cannot create resource "events" in API group "events.k8s.io" in the namespace "default"',
  );
  t.equal((await kubectl(asN1, 'auth', 'can-i', 'create', 'events.events.k8s.io')).stdout.trim(), 'no');
  t.equal((await kubectl(asN1, 'auth', 'can-i', 'create', 'events')).stdout.trim(), 'yes');
  t.equal((await api('POST', '/api/v1/namespaces/default/events', { ...n1, body: coreEvent('n1') })).status, 201);
  t.equal((await api('POST', '/api/v1/namespaces/default/events', { token: s.tokenFor('n2'), body: coreEvent('n2') })).status, 201);
  const again = await api('POST', '/api/v1/namespaces/default/events', { ...n1, body: coreEvent('n1') });
  t.same([again.status, again.body.reason, again.body.message], [409, 'AlreadyExists', 'events "n1.legacy" already exists'], 'a name is taken once');
});

t.test('events: names as apimachinery checks them; a generateName may end in "-" only, and only events.k8s.io checks it', { skip }, async (t) => {
  const dotted = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { ...adminToken(), body: validEvent({ metadata: { generateName: 'n1.postjoin.' } }) });
  t.equal(dotted.status, 422, 'NameIsDNSSubdomain(prefix) forgives a trailing "-", not a "."');
  t.match(dotted.body.message, /^Event\.events\.k8s\.io "n1\.postjoin\.[a-z0-9]{5}" is invalid: metadata\.generateName: Invalid value: "n1\.postjoin\.": a lowercase RFC 1123 subdomain must consist of/);
  t.match(dotted.body.details.causes, [{ reason: 'FieldValueInvalid', field: 'metadata.generateName' }]);
  const dashed = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { ...adminToken(), body: validEvent() });
  t.equal(dashed.status, 201);
  t.match(dashed.body.metadata.name, /^n1-postjoin-[a-z0-9]{5}$/, 'generateName gets a random suffix');
  const long = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { ...adminToken(), body: validEvent({ metadata: { generateName: `${'a'.repeat(70)}-` } }) });
  t.match(long.body.metadata.name, new RegExp(`^${'a'.repeat(58)}[a-z0-9]{5}$`), 'the prefix is cut to 58 characters (names.SimpleNameGenerator)');
  const badName = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { ...adminToken(), body: validEvent({ metadata: { name: 'N1.Event' } }) });
  t.match(badName.body.message, 'Event.events.k8s.io "N1.Event" is invalid: metadata.name: Invalid value: "N1.Event": a lowercase RFC 1123 subdomain');

  // core/v1: ValidateEventCreate returns before ValidateObjectMeta; only BeforeCreate's path-segment rule applies.
  const coreDotted = await api('POST', '/api/v1/namespaces/default/events', { ...n1, body: coreEvent('n1', { metadata: { generateName: 'n1.postjoin.' } }) });
  t.equal(coreDotted.status, 201, 'a core/v1 generateName is only a path segment prefix');
  const kubeletStyle = await api('POST', '/api/v1/namespaces/default/events', { ...n1, body: coreEvent('n1', { metadata: { name: 'n1.1883ed5b0c1a2b3c' } }) });
  t.equal(kubeletStyle.status, 201, "client-go's recorder's name: <object>.<hex nanoseconds>");
  const slash = await api('POST', '/api/v1/namespaces/default/events', { ...n1, body: coreEvent('n1', { metadata: { name: 'n1/x' } }) });
  t.same([slash.status, slash.body.message], [422, `Event "n1/x" is invalid: metadata.name: Invalid value: "n1/x": may not contain '/'`]);
  const dots = await api('POST', '/api/v1/namespaces/default/events', { ...n1, body: coreEvent('n1', { metadata: { name: '..' } }) });
  t.match(dots.body.message, `metadata.name: Invalid value: "..": may not be '..'`);
  const none = await api('POST', '/api/v1/namespaces/default/events', { ...n1, body: coreEvent('n1', { metadata: {} }) });
  t.same([none.status, none.body.message], [422, 'Event "" is invalid: metadata.name: Required value: name or generateName is required']);
});

t.test('events: the rest of ValidateEventCreate, both APIs, and kubectl describe node', { skip }, async (t) => {
  const before = s.events().length;
  const refused: [unknown, number, string][] = [
    [validEvent({ eventTime: '2026-12-03T10:00:00.12345Z' }), 400, 'parsing time "2026-12-03T10:00:00.12345Z" as "2006-01-02T15:04:05.000000Z07:00"'],
    [validEvent({ eventTime: '2026-12-03T10:00:00.1234567Z' }), 400, 'cannot be handled as a Event: parsing time'],
    [validEvent({ eventTime: '2026-12-03T10:00:00Z' }), 400, 'cannot parse "Z" as ".000000"'],
    [validEvent({ reportingController: undefined }), 422, 'reportingController: Required value'],
    [validEvent({ reportingInstance: '', action: '' }), 422, '[reportingInstance: Required value, action: Required value]'],
    [validEvent({ reportingInstance: 'x'.repeat(129) }), 422, 'reportingInstance: Invalid value: "": can have at most 128 characters'],
    [validEvent({ reason: undefined }), 422, 'reason: Required value'],
    [validEvent({ metadata: {} }), 422, 'Event.events.k8s.io "" is invalid: metadata.name: Required value: name or generateName is required'],
    [validEvent({ type: 'Info' }), 422, 'type: Invalid value: "": has invalid value: Info'],
    [validEvent({ deprecatedCount: 2 }), 422, 'count: Invalid value: "": needs to be unset'],
  ];
  for (const [body, status, message] of refused) {
    const r = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { ...adminToken(), body });
    t.equal(r.status, status, message);
    t.match(r.body.message, message);
  }
  const wrongNs = await api('POST', '/apis/events.k8s.io/v1/namespaces/kube-public/events', { ...adminToken(), body: validEvent() });
  t.match(wrongNs.body.message, 'involvedObject.namespace: Invalid value: "": does not match event.namespace', 'a Node event belongs in default');
  const coreWrongNs = await api('POST', '/api/v1/namespaces/kube-system/events', { ...n1, body: coreEvent('n1', { metadata: { name: 'n1.ns' } }) });
  t.match(coreWrongNs.body.message, 'involvedObject.namespace: Invalid value: "": does not match event.namespace', 'without eventTime only "default" (legacyValidateEvent)');
  const coreTimed = await api('POST', '/api/v1/namespaces/default/events', { ...n1, body: coreEvent('n1', { metadata: { name: 'n1.timed' }, eventTime: '2026-12-03T10:00:00.123456Z', reportingInstance: 'x'.repeat(129) }) });
  t.equal(coreTimed.status, 422, 'with eventTime a core/v1 event meets the reporting rules too');
  for (const cause of ['reportingController: Required value', 'reportingInstance: Invalid value: "": can have at most 128 characters', 'action: Required value']) t.match(coreTimed.body.message, cause);
  t.equal(s.events().length, before, 'nothing refused was stored');

  await writeFile(join(home, 'bad-event.json'), JSON.stringify(validEvent({ metadata: { name: 'bad' }, eventTime: '2026-12-03T10:00:00.12345Z' })));
  const viaKubectl = await kubectl(admin, 'create', '-f', join(home, 'bad-event.json'));
  t.match(viaKubectl.stderr, 'Error from server (BadRequest): error when creating');
  t.match(viaKubectl.stderr, 'cannot parse ".12345Z" as ".000000"');

  const created = await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { ...adminToken(), body: validEvent() });
  t.equal(created.status, 201);
  const coreList = JSON.parse((await kubectl(admin, 'get', 'events', '-o', 'json')).stdout).items;
  t.match(coreList.find((e: any) => e.metadata.name === created.body.metadata.name), { involvedObject: { name: 'n1', kind: 'Node' }, reportingComponent: 'postjoin.io/postjoin', message: 'postjoin: 3 tasks succeeded', source: {}, firstTimestamp: null });
  const newList = JSON.parse((await kubectl(admin, 'get', 'events.events.k8s.io', '-o', 'json')).stdout).items;
  t.match(newList.find((e: any) => e.metadata.name === 'n1.legacy'), { regarding: { name: 'n1' }, note: 'legacy event on n1', deprecatedSource: { component: 'postjoin', host: 'n1' }, deprecatedCount: 1 });
  t.match((await kubectl(asN1, 'get', 'events')).stderr, 'cannot list resource "events" in API group "" in the namespace "default"', 'a node may create events, not read them');

  const describe = await kubectl(admin, 'describe', 'node', 'n1');
  t.equal(describe.code, 0, describe.stderr);
  t.match(describe.stdout, /^ {2}postjoin\.io\/Ready\s+True\s+.*\s+Succeeded\s+3 tasks$/m, 'the condition');
  t.match(describe.stdout, /^ {2}Normal\s+Succeeded\s+\S+\s+postjoin\.io\/postjoin\s+postjoin: 3 tasks succeeded$/m, 'the events.k8s.io event (found by the Node\'s uid)');
  t.match(describe.stdout, /^ {2}Normal\s+Started\s+\d+s\s+postjoin\s+legacy event on n1$/m, 'the core/v1 event (found by the node name as uid, as kubelet events are)');
  t.notMatch(describe.stdout, 'legacy event on n2', 'the field selector keeps other nodes\' events out');
  t.match(describe.stdout, /Lease:\n\s+HolderIdentity:\s+n1/);
});

t.test("Karpenter's registration patch as Karpenter sends it: a merge patch with the read resourceVersion; kubectl sees the result", { skip }, async (t) => {
  const claim: NodeClaim = { name: 'default-x1', nodePool: 'default', labels: { team: 'a' }, startupTaints: [{ key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' }] };
  s.addNode('k1', karpenterKubelet(claim, { registerWithTaints: [UNREGISTERED] }));
  const rv = s.node('k1').metadata.resourceVersion;
  s.karpenterRegister('k1', claim);
  const node = JSON.parse((await kubectl(admin, 'get', 'node', 'k1', '-o', 'json')).stdout);
  t.same(node.spec.taints, [{ key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' }], 'karpenter.sh/unregistered swapped for the startup taint');
  t.match(node.metadata.labels, { 'karpenter.sh/nodepool': 'default', 'karpenter.sh/registered': 'true', team: 'a' });
  t.same(node.metadata.finalizers, ['karpenter.sh/termination']);
  t.match(node.metadata.ownerReferences, [{ kind: 'NodeClaim', name: 'default-x1', blockOwnerDeletion: true }]);
  // MergeFromWithOptimisticLock: a patch made from a stale read is a conflict (Karpenter requeues).
  const stale = await api('PATCH', '/api/v1/nodes/k1', { ...adminToken(), type: 'application/merge-patch+json', body: { metadata: { resourceVersion: rv, labels: { x: 'y' } } } });
  t.same([stale.status, stale.body.reason], [409, 'Conflict']);
  s.karpenterRegister('k1', claim);
  t.same(s.node('k1').spec.taints, node.spec.taints, 'registering again changes nothing');
});

t.test('PUT needs the current resourceVersion; server-side apply needs a field manager and owns fields', { skip }, async (t) => {
  const file = join(home, 'n1.json');
  await writeFile(file, (await kubectl(admin, 'get', 'node', 'n1', '-o', 'json')).stdout);
  await kubectl(admin, 'label', 'node', 'n1', 'team=a');
  const stale = await kubectl(admin, 'replace', '-f', file);
  t.equal(stale.code, 1);
  t.match(stale.stderr, 'Error from server (Conflict): error when replacing');
  t.match(stale.stderr, 'Operation cannot be fulfilled on nodes "n1": the object has been modified; please apply your changes to the latest version and try again');
  t.match(s.requests.at(-1), { method: 'PUT', path: '/api/v1/nodes/n1', status: 409 });
  await writeFile(file, (await kubectl(admin, 'get', 'node', 'n1', '-o', 'json')).stdout);
  t.equal((await kubectl(admin, 'replace', '-f', file)).code, 0, 'the current version replaces');

  const rv = s.node('n1').metadata.resourceVersion;
  const put = await api('PUT', '/api/v1/nodes/n1', { ...n1, body: { ...s.node('n1'), status: { conditions: [] } } });
  t.equal(put.status, 200);
  t.equal(put.body.metadata.resourceVersion, rv, 'a PUT that changes nothing the main resource keeps is no write');
  t.same(conditionTypes('n1'), [...KUBELET, 'postjoin.io/Ready'], 'the main resource ignores status');

  const manifest = join(home, 'apply.yaml');
  await writeFile(manifest, 'apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels:\n    applied: "yes"\n');
  t.equal((await kubectl(admin, 'apply', '--server-side', '-f', manifest)).code, 0);
  t.match(s.node('n1').metadata.managedFields, [{ manager: 'kubelet' }, { manager: 'kubelet', subresource: 'status' }], 'the kubelet owns what it set');
  t.ok(s.node('n1').metadata.managedFields.some((e: any) => e.manager === 'kubectl' && e.operation === 'Apply'), 'kubectl is recorded as an Apply manager');
  await writeFile(manifest, 'apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels:\n    team: b\n');
  const conflict = await kubectl(admin, 'apply', '--server-side', '-f', manifest);
  t.match(conflict.stderr, 'Apply failed with 1 conflict: conflict with "kubectl-label" using v1: .metadata.labels.team');
  t.equal((await kubectl(admin, 'apply', '--server-side', '--force-conflicts', '-f', manifest)).code, 0);
  t.match(s.node('n1').metadata.labels, { team: 'b' });
  t.notOk('applied' in s.node('n1').metadata.labels, 'a label the manager no longer applies is removed');

  const yaml = 'apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nstatus:\n  conditions:\n  - type: postjoin.io/Ready\n    status: "True"\n    reason: Succeeded\n';
  const noManager = await api('PATCH', '/api/v1/nodes/n1/status', { ...n1, type: 'application/apply-patch+yaml', body: yaml });
  t.same([noManager.status, noManager.body.message], [422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch']);
  const applied = await api('PATCH', '/api/v1/nodes/n1/status?fieldManager=postjoin', { ...n1, type: 'application/apply-patch+yaml', body: yaml });
  t.equal(applied.status, 200);
  t.same(conditionTypes('n1'), [...KUBELET, 'postjoin.io/Ready'], 'apply merges conditions by type');
  const force = await api('PATCH', '/api/v1/nodes/n1/status?force=true', { ...n1, type: 'application/strategic-merge-patch+json', body: {} });
  t.match(force.body.message, 'force: Forbidden: may not be specified for non-apply patch');
});

t.test('failure modes as kubectl meets them', { skip }, async (t) => {
  s.failNext(1, 500);
  const e500 = await kubectl(admin, 'get', 'nodes');
  t.equal(e500.code, 1);
  t.match(e500.stderr, 'Error from server (InternalError)');
  await s.mode('5xx', { status: 503, times: 1 });
  t.match((await kubectl(admin, 'get', 'nodes')).stderr, 'Error from server (ServiceUnavailable)');
  t.equal((await kubectl(admin, 'get', 'nodes')).code, 0, 'after `times` faults the server answers again');

  s.failNext(1, 429);
  const throttled = await kubectl(admin, 'get', 'node', 'n1');
  t.equal(throttled.code, 0, 'kubectl waits Retry-After and retries a 429');
  t.same(s.requests.slice(-2).map((r) => r.status), [429, 200]);

  await s.mode('closed');
  const port = new URL(s.url).port;
  const refused = await kubectl(admin, 'get', 'nodes');
  t.equal(refused.code, 1);
  t.match(refused.stderr, `The connection to the server 127.0.0.1:${port} was refused`);
  await t.rejects(api('GET', '/version', n1), { code: 'ECONNREFUSED' });
  await s.mode('ok');
  t.equal((await kubectl(admin, 'get', 'nodes')).code, 0, 'back on the same port');

  await s.mode('hang');
  const started = Date.now();
  const hung = await kubectl(admin, '--request-timeout=2s', 'get', 'nodes');
  t.equal(hung.code, 1);
  t.match(hung.stderr, /Client\.Timeout exceeded|context deadline exceeded|timeout/i);
  t.ok(Date.now() - started < 20_000, 'kubectl gives up at its own timeout');
  t.equal(s.requests.at(-1)!.status, 0, 'the hung request is recorded, unanswered');
  await s.mode('ok');

  const missing = await kubectl(asN1, 'get', 'node', 'n9');
  t.match(missing.stderr, 'Error from server (NotFound): nodes "n9" not found');
  s.addNode('n9');
  t.equal((await kubectl(asN1, 'get', 'node', 'n9')).code, 0, 'registered now');
  t.match(await readFile(admin, 'utf8'), s.url, 'kubeconfigs point at the stand-in');
});
