// The cluster-handoff recipe (packaging/examples/cluster-handoff): the NodeReadinessRules, the Karpenter NodePool
// and the nodeadm NodeConfig agree on one taint and their labels (test/packaging/examples-crd.test.ts checks them
// against the CRDs), the rule waits for the condition postjoin writes
// by default, the NodeConfig goes through `postjoin render-userdata`, and the README's kubectl one-liners
// work (the real kubectl against the API stand-in, after real reports).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { createHost } from '../../src/host/host.js';
import { agentConfigSchema } from '../../src/config/agent-config.js';
import { startClusterReport } from '../../src/report/cluster-report.js';
import { removeDir, requireReal, run, tempDir, which } from '../harness/index.js';
import { startKubeApiServer } from '../emulators/kube-apiserver.js';
import { BUNDLE, ROOT } from '../helpers/cli.js';
import { memoryLogger } from '../helpers/memory-log.js';

/** The machine as `run` hands it to the report: the Kubernetes API through the kubeconfig. */
const host = createHost();

const DIR = join(ROOT, 'packaging/examples/cluster-handoff');
const TAINT = { key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' };
const LABEL = ['postjoin.io/handoff', 'true'];
type Obj = Record<string, any>;
const load = async (f: string) => parseYaml(await readFile(join(DIR, f), 'utf8')) as Obj;

t.test('one taint, the labels and the default condition across the four files', async (t) => {
  const rule = await load('node-readiness-rule.yaml');
  const karpenterRule = await load('karpenter-node-readiness-rule.yaml');
  const pool = await load('karpenter-nodepool.yaml');
  const nodeconfig = await load('nodeconfig.yaml');
  const defaults = agentConfigSchema.parse({}).kubernetes;

  // NodeReadinessRule (readiness.node.x-k8s.io/v1alpha1, api/v1alpha1/nodereadinessrule_types.go)
  t.equal(rule.apiVersion, 'readiness.node.x-k8s.io/v1alpha1');
  t.equal(rule.kind, 'NodeReadinessRule');
  t.same(Object.keys(rule.spec).filter((k) => !['conditions', 'enforcementMode', 'taint', 'nodeSelector', 'conditionPolicy', 'dryRun'].includes(k)), [], 'only the CRD\'s spec fields');
  for (const k of ['conditions', 'enforcementMode', 'taint', 'nodeSelector']) t.ok(k in rule.spec, `spec.${k} is required`);
  t.same(rule.spec.conditions, [{ type: defaults.condition, requiredStatus: 'True' }], 'the condition postjoin writes by default, True');
  t.equal(rule.spec.enforcementMode, 'bootstrap-only');
  t.notOk(rule.spec.conditions.some((c: Obj) => 'defaultStatus' in c), 'defaultStatus is refused with bootstrap-only');
  t.same(rule.spec.taint, TAINT);
  // The CRD's CEL rules on the taint key.
  const [prefix, name, ...rest] = (rule.spec.taint.key as string).split('/');
  t.equal(prefix, 'readiness.k8s.io');
  t.same(rest, []);
  t.match(name, /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
  t.same(rule.spec.nodeSelector, { matchLabels: { [LABEL[0]!]: LABEL[1] } });
  t.same({ ...karpenterRule.spec, nodeSelector: rule.spec.nodeSelector }, rule.spec, 'the Karpenter rule differs only in its selector');
  t.same(karpenterRule.spec.nodeSelector, { matchLabels: { [LABEL[0]!]: 'karpenter', 'karpenter.sh/registered': 'true' } }, 'Karpenter nodes, once Karpenter has registered them');

  // Karpenter NodePool (karpenter.sh/v1)
  t.equal(pool.apiVersion, 'karpenter.sh/v1');
  t.equal(pool.kind, 'NodePool');
  t.same(pool.spec.template.spec.startupTaints, [TAINT]);
  t.notOk(pool.spec.template.spec.taints, 'a startup taint, not a permanent one');
  t.same(pool.spec.template.metadata.labels, { [LABEL[0]!]: 'karpenter' });
  t.match(pool.spec.template.spec.nodeClassRef, { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: /./ });
  t.ok(Array.isArray(pool.spec.template.spec.requirements) && pool.spec.template.spec.requirements.length > 0, 'requirements (required in v1)');

  // nodeadm NodeConfig (node.eks.aws/v1alpha1)
  t.equal(nodeconfig.apiVersion, 'node.eks.aws/v1alpha1');
  t.equal(nodeconfig.kind, 'NodeConfig');
  const flags = nodeconfig.spec.kubelet.flags as string[];
  t.same(flags.filter((f) => f.startsWith('--register-with-taints=')), [`--register-with-taints=${TAINT.key}=${TAINT.value}:${TAINT.effect}`]);
  t.same(flags.filter((f) => f.startsWith('--node-labels=')), [`--node-labels=${LABEL[0]}=${LABEL[1]}`]);
  for (const k of ['name', 'apiServerEndpoint', 'certificateAuthority', 'cidr']) t.ok(nodeconfig.spec.cluster[k], `spec.cluster.${k}`);
});

t.test('the NodeConfig goes through postjoin render-userdata as is', async (t) => {
  const nodeconfig = join(DIR, 'nodeconfig.yaml');
  const r = await run(process.execPath, [BUNDLE, 'render-userdata', '--nodeconfig', nodeconfig, '--tasks', join(ROOT, 'packaging/examples/tasks.d/10-prepull.yaml')]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '', 'no warning: it is a NodeConfig, and fits the user-data limit');
  t.ok(r.stdout.includes(await readFile(nodeconfig, 'utf8')), 'the NodeConfig part, byte for byte');
  t.match(r.stdout, /Content-Type: application\/node\.eks\.aws/);
});

t.test("the README's kubectl one-liners, against the stand-in after real reports", async (t) => {
  if (!(await requireReal(t, 'kubectl', async () => !!(await which('kubectl')), 'apt-get install -y kubectl (pkgs.k8s.io)'))) return;
  const api = await startKubeApiServer();
  const home = await tempDir('kubectl');
  t.teardown(async () => {
    await api.stop();
    await removeDir(home);
  });
  const good = 'ip-10-0-6-1.us-west-2.compute.internal';
  const bad = 'ip-10-0-6-2.us-west-2.compute.internal';
  const held = 'ip-10-0-6-3.us-west-2.compute.internal';
  for (const node of [good, bad, held]) api.addNode(node, { labels: { [LABEL[0]!]: LABEL[1]! }, taints: [TAINT] });
  const report = async (node: string, outcome: Parameters<Awaited<ReturnType<typeof startClusterReport>>['final']>[0]) => {
    const kubeconfig = await api.writeKubeconfig({ user: 'token', nodeName: node });
    const cfg = { ...agentConfigSchema.parse({}).kubernetes, enabled: true as const, kubeconfig, nodeName: null, timeoutMs: 10_000 };
    const r = await startClusterReport({ ...cfg, timeoutMs: 10_000 }, { log: memoryLogger().log, stop: new AbortController().signal, nodeName: node, host });
    return r.final(outcome);
  };
  t.match(await report(good, { reason: 'Succeeded', counts: { succeeded: 2 } }), { made: true });
  t.match(await report(bad, { reason: 'TaskFailed', task: 'prepull', source: 'file:/etc/postjoin/tasks.d/10-prepull.yaml#tasks[0]', error: 'exit code 1' }), { made: true });

  const readme = await readFile(join(DIR, 'README.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const lines = block.split('\n').filter((l) => l.startsWith('kubectl'));
  t.equal(lines.length, 5, 'five one-liners');
  const admin = await api.writeKubeconfig({ user: 'admin' });
  const sh = (line: string) => run('/bin/bash', ['-c', line], { env: { ...process.env, HOME: home, KUBECONFIG: admin, NODE: bad }, timeoutMs: 30_000 });

  const fleet = await sh(lines[0]!);
  t.equal(fleet.code, 0, fleet.stderr);
  t.match(fleet.stdout, /^NODE +POSTJOIN +RESULT +SINCE$/m);
  t.match(fleet.stdout, new RegExp(`^${good} +Succeeded +succeeded +\\d{4}-`, 'm'));
  t.match(fleet.stdout, new RegExp(`^${bad} +TaskFailed +failed +\\d{4}-`, 'm'));
  t.match(fleet.stdout, new RegExp(`^${held} +<none> +<none> +<none>$`, 'm'), 'a node that has not reported');

  const failed = await sh(lines[1]!);
  t.equal(failed.code, 0, failed.stderr);
  t.same(failed.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]), [bad], 'only the failed node');

  const why = await sh(lines[2]!);
  t.equal(why.stdout, 'task "prepull" (file:/etc/postjoin/tasks.d/10-prepull.yaml#tasks[0]) failed: exit code 1\n');

  const events = await sh(lines[3]!);
  t.equal(events.code, 0, events.stderr);
  t.match(events.stdout, /PostjoinTaskFailed/);
  t.match(events.stdout, new RegExp(`node/${bad}`));
  t.notMatch(events.stdout, /PostjoinSucceeded/);

  const taints = await sh(lines[4]!);
  t.same(taints.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]).sort(), [good, bad, held].sort(), 'postjoin never removes the taint itself; the controller does');
});

t.test("releasing a node by hand as docs/cluster-handoff.md says: the completion annotation first, then the taint (the real kubectl)", async (t) => {
  if (!(await requireReal(t, 'kubectl', async () => !!(await which('kubectl')), 'apt-get install -y kubectl (pkgs.k8s.io)'))) return;
  const api = await startKubeApiServer();
  const home = await tempDir('kubectl');
  t.teardown(async () => {
    await api.stop();
    await removeDir(home);
  });
  const node = 'ip-10-0-6-9.us-west-2.compute.internal';
  api.addNode(node, { labels: { [LABEL[0]!]: LABEL[1]! }, taints: [TAINT, { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] });
  const doc = await readFile(join(ROOT, 'docs/cluster-handoff.md'), 'utf8');
  const block = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('kubectl annotate node'));
  const lines = (block ?? '').split('\n').filter((l) => l.trim() !== '');
  t.match(lines[1], /^RULE_UID=\$\(kubectl get nodereadinessrule "\$RULE" -o jsonpath='\{\.metadata\.uid\}'\)$/, 'the rule\'s uid, from the rule (the stand-in serves no NodeReadinessRule: given here)');
  const uid = '6f1c2a8e-0b7d-4c1e-9a53-2d8f4e7b1c90';
  const script = [lines[0]!, `RULE_UID=${uid}`, ...lines.slice(2)].join('\n');
  const admin = await api.writeKubeconfig({ user: 'admin' });
  const r = await run('/bin/bash', ['-euc', script], { env: { ...process.env, HOME: home, KUBECONFIG: admin, NODE: node }, timeoutMs: 30_000 });
  t.equal(r.code, 0, r.stderr);
  const after = api.node(node);
  t.equal(after.metadata.annotations[`readiness.k8s.io/bootstrap-completed-${uid}`], '{"rule-name":"postjoin"}', 'the key node-readiness-controller looks for (internal/controller/helper.go), the value it writes');
  t.same(after.spec.taints, [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }], 'only the handoff taint is gone');
});
