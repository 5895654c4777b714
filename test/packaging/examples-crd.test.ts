// The example manifests in packaging/examples (the EC2NodeClass, the NodePool, the two NodeReadinessRules, the
// NodeConfig) against the CRDs of the versions they are written for (test/fixtures/crds, with where each comes
// from): every field known, every type, enum, pattern and required field as the API server checks them on
// create, and every CEL rule (x-kubernetes-validations) on the values they set, evaluated here by hand. A CEL
// rule this file has no evaluation for fails the test, so a new upstream rule cannot pass unseen.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { type CelCheck, checkManifest, parseCrd, type Crd } from '../helpers/crd-schema.js';
import { BUNDLE, ROOT } from '../helpers/cli.js';
import { run } from '../helpers/packaging.js';

type Obj = Record<string, any>;
const EX = join(ROOT, 'packaging/examples');
const has = (o: unknown, k: string) => typeof o === 'object' && o !== null && k in o;
const prefix = (key: string) => /^([^/]+)/.exec(key)?.[1] ?? '';

/** The CEL rules the examples meet, each as the API server would evaluate it on create. */
const CEL: Record<string, (self: any) => boolean> = {
  // EC2NodeClass (karpenter.k8s.aws/v1)
  "(has(self.role) && !has(self.instanceProfile)) || (!has(self.role) && has(self.instanceProfile))": (s) => has(s, 'role') !== has(s, 'instanceProfile'),
  'self.amiSelectorTerms.exists(x, has(x.alias)) ? true : has(self.amiFamily)': (s) => s.amiSelectorTerms.some((x: Obj) => has(x, 'alias')) || has(s, 'amiFamily'),
  'self.all(x, has(x.tags) || has(x.id) || has(x.name) || has(x.alias) || has(x.ssmParameter))': (s) => s.every((x: Obj) => ['tags', 'id', 'name', 'alias', 'ssmParameter'].some((k) => has(x, k))),
  '!self.exists(x, has(x.id) && (has(x.alias) || has(x.tags) || has(x.name) || has(x.owner)))': (s) => !s.some((x: Obj) => has(x, 'id') && ['alias', 'tags', 'name', 'owner'].some((k) => has(x, k))),
  '!self.exists(x, has(x.alias) && (has(x.id) || has(x.tags) || has(x.name) || has(x.owner)))': (s) => !s.some((x: Obj) => has(x, 'alias') && ['id', 'tags', 'name', 'owner'].some((k) => has(x, k))),
  '!(self.exists(x, has(x.alias)) && self.size() != 1)': (s) => !(s.some((x: Obj) => has(x, 'alias')) && s.length !== 1),
  "self.all(k, k != '' && self[k] != '')": (s) => Object.entries(s).every(([k, v]) => k !== '' && v !== ''),
  "self != ''": (s) => s !== '',
  'self.size() != 0': (s) => s.length !== 0,
  'self.all(x, has(x.tags) || has(x.id))': (s) => s.every((x: Obj) => has(x, 'tags') || has(x, 'id')),
  '!self.all(x, has(x.id) && has(x.tags))': (s) => !s.every((x: Obj) => has(x, 'id') && has(x, 'tags')),
  'self.all(x, has(x.tags) || has(x.id) || has(x.name))': (s) => s.every((x: Obj) => ['tags', 'id', 'name'].some((k) => has(x, k))),
  '!self.all(x, has(x.id) && (has(x.tags) || has(x.name)))': (s) => !s.every((x: Obj) => has(x, 'id') && (has(x, 'tags') || has(x, 'name'))),
  '!self.all(x, has(x.name) && (has(x.tags) || has(x.id)))': (s) => !s.every((x: Obj) => has(x, 'name') && (has(x, 'tags') || has(x, 'id'))),
  // NodePool (karpenter.sh/v1)
  "!has(self.replicas) || (!has(self.limits) || size(self.limits) == 0 || (size(self.limits) == 1 && 'nodes' in self.limits))": (s) =>
    !has(s, 'replicas') || !has(s, 'limits') || Object.keys(s.limits).length === 0 || (Object.keys(s.limits).length === 1 && 'nodes' in s.limits),
  '!has(self.replicas) || !has(self.weight)': (s) => !has(s, 'replicas') || !has(s, 'weight'),
  'self.all(x, x in ["karpenter.sh/capacity-type", "karpenter.sh/nodepool"] || !x.find("^([^/]+)").endsWith("karpenter.sh"))': (s) =>
    Object.keys(s).every((x) => ['karpenter.sh/capacity-type', 'karpenter.sh/nodepool'].includes(x) || !prefix(x).endsWith('karpenter.sh')),
  'self.all(x, x != "karpenter.sh/nodepool")': (s) => Object.keys(s).every((x) => x !== 'karpenter.sh/nodepool'),
  'self.all(x, x != "kubernetes.io/hostname")': (s) => Object.keys(s).every((x) => x !== 'kubernetes.io/hostname'),
  "self.all(x, x.operator == 'In' ? x.values.size() != 0 : true)": (s) => s.every((x: Obj) => x.operator !== 'In' || x.values.length !== 0),
  "self.all(x, (x.operator == 'Gt' || x.operator == 'Lt' || x.operator == 'Gte' || x.operator == 'Lte') ? (x.values.size() == 1 && int(x.values[0]) >= 0) : true)": (s) =>
    s.every((x: Obj) => !['Gt', 'Lt', 'Gte', 'Lte'].includes(x.operator) || (x.values.length === 1 && /^\d+$/.test(x.values[0]))),
  "self.all(x, (x.operator == 'In' && has(x.minValues)) ? x.values.size() >= x.minValues : true)": (s) => s.every((x: Obj) => !(x.operator === 'In' && has(x, 'minValues')) || x.values.length >= x.minValues),
  'self in ["karpenter.sh/capacity-type", "karpenter.sh/nodepool"] || !self.find("^([^/]+)").endsWith("karpenter.sh")': (s) =>
    ['karpenter.sh/capacity-type', 'karpenter.sh/nodepool'].includes(s) || !prefix(s).endsWith('karpenter.sh'),
  'self != "karpenter.sh/nodepool"': (s) => s !== 'karpenter.sh/nodepool',
  'self != "kubernetes.io/hostname"': (s) => s !== 'kubernetes.io/hostname',
  // NodeReadinessRule (readiness.node.x-k8s.io/v1alpha1)
  "self.key.startsWith('readiness.k8s.io/')": (s) => s.key.startsWith('readiness.k8s.io/'),
  'self.key.size() <= 253': (s) => s.key.length <= 253,
  "size(self.key.split('/')) == 2": (s) => s.key.split('/').length === 2,
  "size(self.key.split('/')[1]) > 0 && size(self.key.split('/')[1]) <= 63": (s) => s.key.split('/')[1].length > 0 && s.key.split('/')[1].length <= 63,
  "self.key.split('/')[1].matches('^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')": (s) => /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(s.key.split('/')[1]),
  "!has(self.value) || self.value.size() <= 63": (s) => !has(s, 'value') || s.value.length <= 63,
  "self.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute']": (s) => ['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(s.effect),
};

/** `if set, amiFamily must be 'X' or 'Custom' when using an x alias`, one rule per family. */
function aliasFamilyRule(rule: string): ((self: any) => boolean) | undefined {
  const m = /^!has\(self\.amiFamily\) \|\| \(self\.amiSelectorTerms\.exists\(x, has\(x\.alias\) && x\.alias\.find\('\^\[\^@\]\+'\) == '(\w+)'\) \? \(self\.amiFamily == 'Custom' \|\| self\.amiFamily == '(\w+)'\) : true\)$/.exec(rule);
  if (!m) return undefined;
  return (s) => !has(s, 'amiFamily') || !s.amiSelectorTerms.some((x: Obj) => /^[^@]+/.exec(x.alias ?? '')?.[0] === m[1]) || ['Custom', m[2]].includes(s.amiFamily);
}

/** Transition rules (they name oldSelf) run only on update: these fields are immutable, or hold as they were. */
const onUpdateOnly = (c: CelCheck) => /\boldSelf\b/.test(c.rule);

function evaluate(c: CelCheck): boolean | 'unknown' {
  const rule = c.rule.replace(/\s+/g, ' ').trim();
  const fn = CEL[rule] ?? aliasFamilyRule(rule);
  return fn ? fn(c.self) : 'unknown';
}

let crds: Crd[] = [];
const crdFor = (kind: string) => crds.find((c) => c.kind === kind)!;
async function manifests(file: string): Promise<Obj[]> {
  return parseAllDocuments(await readFile(join(EX, file), 'utf8')).map((d) => d.toJS() as Obj);
}

t.before(async () => {
  const dir = join(ROOT, 'test/fixtures/crds');
  crds = await Promise.all(['karpenter.k8s.aws_ec2nodeclasses.yaml', 'karpenter.sh_nodepools.yaml', 'readiness.node.x-k8s.io_nodereadinessrules.yaml', 'node.eks.aws_nodeconfigs.yaml'].map(async (f) => parseCrd(await readFile(join(dir, f), 'utf8'))));
});

const FILES = ['karpenter/ec2nodeclass.yaml', 'cluster-handoff/karpenter-nodepool.yaml', 'cluster-handoff/node-readiness-rule.yaml', 'cluster-handoff/karpenter-node-readiness-rule.yaml', 'cluster-handoff/nodeconfig.yaml'];

t.test('every example manifest fits its CRD: schema and CEL rules', async (t) => {
  const immutable = new Set<string>();
  for (const file of FILES) {
    for (const m of await manifests(file)) {
      const { errors, cel } = checkManifest(crdFor(m.kind), m);
      t.same(errors, [], `${file}: no schema error`);
      for (const c of cel) {
        if (onUpdateOnly(c)) {
          immutable.add(`${m.kind} ${c.path}: ${c.message || c.rule}`);
          continue;
        }
        const ok = evaluate(c);
        t.equal(ok, true, `${file}: ${c.path}: ${c.message || c.rule}${ok === 'unknown' ? ` (a CEL rule this test cannot evaluate yet: ${c.rule})` : ''}`);
      }
    }
  }
  // The recipe's advice on changing a rule rests on these (the README: delete and recreate, or a new taint key).
  for (const field of ['conditions', 'enforcementMode', 'nodeSelector']) t.ok(immutable.has(`NodeReadinessRule .spec.${field}: ${field} is immutable`), `NodeReadinessRule spec.${field} is immutable`);
  for (const field of ['key', 'effect', 'value']) t.ok(immutable.has(`NodeReadinessRule .spec.taint: taint ${field} is immutable`), `NodeReadinessRule spec.taint.${field} is immutable`);
});

t.test('the checks have teeth: what the API server would refuse is refused here', async (t) => {
  const [nodeclass] = await manifests('karpenter/ec2nodeclass.yaml');
  const [rule] = await manifests('cluster-handoff/node-readiness-rule.yaml');
  const refused = (m: Obj) => {
    const { errors, cel } = checkManifest(crdFor(m.kind), m);
    return [...errors, ...cel.filter((c) => !onUpdateOnly(c) && evaluate(c) === false).map((c) => c.message)];
  };
  const nc = (change: (s: Obj) => void) => {
    const copy = structuredClone(nodeclass!);
    change(copy.spec);
    return refused(copy);
  };
  t.match(nc((s) => (s.userdata = s.userData)), [/unknown field "userdata"/]);
  t.match(nc((s) => delete s.amiFamily), ['must specify amiFamily if amiSelectorTerms does not contain an alias']);
  t.match(nc((s) => (s.instanceProfile = 'x')), ["must specify exactly one of ['role', 'instanceProfile']"]);
  t.match(nc((s) => (s.metadataOptions.httpTokens = 'off')), [/"off" is not one of \["required","optional"\]/]);
  t.match(nc((s) => (s.amiSelectorTerms = [{ id: 'ami-1', tags: { a: 'b' } }])), [/'id' is mutually exclusive/]);
  const r = structuredClone(rule!);
  r.spec.taint.key = 'postjoin.io/pending';
  t.match(refused(r), ["taint key must start with 'readiness.k8s.io/'"]);
});

t.test('the EC2NodeClass: your AMI by AL2023 family, Karpenter\'s IMDS defaults, and the rendered userData as is', async (t) => {
  const [nc] = await manifests('karpenter/ec2nodeclass.yaml');
  const schema = crdFor('EC2NodeClass').versions.v1!.properties!.spec!.properties!;
  t.equal(nc!.spec.amiFamily, 'AL2023', 'nodeadm user data, merged with the userData');
  t.notOk(nc!.spec.amiSelectorTerms.some((x: Obj) => has(x, 'alias')), 'no alias: an alias is the EKS-optimized AMI, without postjoin');
  t.same(nc!.spec.metadataOptions, schema.metadataOptions!.default, "exactly Karpenter's defaults (IMDSv2 required, one hop)");
  const rendered = await run(process.execPath, [BUNDLE, 'render-userdata', '--for', 'karpenter', '--tasks', join(EX, 'karpenter/tasks.yaml')]);
  t.equal(rendered.status, 0, rendered.stderr);
  t.equal(rendered.stderr, '', 'no note, no warning');
  t.equal(nc!.spec.userData, rendered.stdout, 'userData is what render-userdata --for karpenter writes for tasks.yaml, byte for byte');
  t.ok(nc!.spec.userData.trim().startsWith('MIME-Version:'), "Karpenter's rule for MIME user data");
  const all = [...['10-prepull.yaml', '20-cloudwatch-agent.yaml'].map((f) => join(EX, 'tasks.d', f)), join(EX, 'karpenter/tasks.yaml')];
  const v = await run(process.execPath, [BUNDLE, 'validate', '--config', join(EX, 'config.yaml'), ...all]);
  t.equal(v.status, 0, `with the AMI's example tasks and the example policy: ${v.stdout}`);
});

t.test('the NodePool, the EC2NodeClass and the two rules fit together', async (t) => {
  const [nc] = await manifests('karpenter/ec2nodeclass.yaml');
  const [pool] = await manifests('cluster-handoff/karpenter-nodepool.yaml');
  const [nodeadmRule] = await manifests('cluster-handoff/node-readiness-rule.yaml');
  const [karpRule] = await manifests('cluster-handoff/karpenter-node-readiness-rule.yaml');
  const nodeconfig = parseYaml(await readFile(join(EX, 'cluster-handoff/nodeconfig.yaml'), 'utf8')) as Obj;
  t.same(pool!.spec.template.spec.nodeClassRef, { group: 'karpenter.k8s.aws', kind: nc!.kind, name: nc!.metadata.name });
  t.same(karpRule!.spec.taint, nodeadmRule!.spec.taint, 'one taint for both');
  t.same(pool!.spec.template.spec.startupTaints, [karpRule!.spec.taint], 'the NodePool registers nodes with it');
  t.same(karpRule!.spec.conditions, nodeadmRule!.spec.conditions);
  const matches = (rule: Obj, labels: Record<string, string>) => Object.entries(rule.spec.nodeSelector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v);
  const poolLabels = pool!.spec.template.metadata.labels as Record<string, string>;
  const nodeadmLabels = Object.fromEntries(
    (nodeconfig.spec.kubelet.flags as string[]).filter((f) => f.startsWith('--node-labels=')).flatMap((f) => f.slice('--node-labels='.length).split(',').map((kv) => kv.split('='))),
  ) as Record<string, string>;
  t.notOk(matches(karpRule!, poolLabels), 'a Karpenter node is not selected before Karpenter registers it');
  t.ok(matches(karpRule!, { ...poolLabels, 'karpenter.sh/registered': 'true' }), 'and is once it has');
  t.notOk(matches(nodeadmRule!, { ...poolLabels, 'karpenter.sh/registered': 'true' }), 'the nodeadm rule never selects it');
  t.ok(matches(nodeadmRule!, nodeadmLabels), 'the nodeadm rule selects what nodeconfig.yaml registers');
  t.notOk(matches(karpRule!, nodeadmLabels), 'the Karpenter rule does not');
  // node-readiness-controller's webhook refuses a second rule with the same taint key and effect unless the
  // selectors cannot overlap (internal/webhook/selector_overlap.go): here one key with two different values.
  const key = 'postjoin.io/handoff';
  t.not(karpRule!.spec.nodeSelector.matchLabels[key], nodeadmRule!.spec.nodeSelector.matchLabels[key], `the selectors are disjoint on ${key}`);
});
