import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { kindNamed } from '../../src/kinds/registry.js';
import { startEc2Server, type Ec2Emulator } from '../emulators/ec2-server.js';
import { startImdsServer, type ImdsEmulator, type ImdsEmulatorOptions } from '../emulators/imds-server.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { emulatedAwsEnv } from '../helpers/fake-node.js';
import { moduleInitWatcher } from '../helpers/module-inits.js';
import { HEADER } from '../helpers/plan.js';

const INSTANCE = 'i-0a1b2c3d4e5f60718';
const PAUSE = 'public.ecr.aws/eks-distro/kubernetes/pause:3.9';

interface Node {
  imds: ImdsEmulator;
  ec2: Ec2Emulator;
  dir: string;
  /** Runs the bundle as on a node whose IMDS and EC2 are the emulators; never the real ones. */
  cli(args: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof runCli>;
}

async function node(t: { teardown(fn: () => unknown): void }, imdsOpts: ImdsEmulatorOptions, config: string, ec2Tags: Record<string, string> = {}): Promise<Node> {
  const imds = await startImdsServer({ instanceId: INSTANCE, region: 'eu-west-1', ...imdsOpts });
  const ec2 = await startEc2Server({ instances: { [INSTANCE]: ec2Tags } });
  t.teardown(() => Promise.all([imds.close(), ec2.close()]));
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-node-'));
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, `readiness: { units: [], kubeletHealthz: null, containerd: false }\n${config}`);
  const env = emulatedAwsEnv(dir, { imds: imds.url, ec2: ec2.url });
  return {
    imds,
    ec2,
    dir,
    cli: (args, extra = {}) => runCli([...args, '--config', configPath, '--state-dir', join(dir, 'state')], { env: { ...env, ...extra } }),
  };
}

type PlanTask = Record<string, unknown> & { name: string; source: string };
const planOf = (stdout: string) => (JSON.parse(stdout) as { tasks: PlanTask[] }).tasks;
const fixture = (f: string) => readFileSync(join(ROOT, 'test/fixtures/userdata', f));

t.test('only user data configured: plan shows its tasks with part origins', async (t) => {
  const n = await node(t, { userData: fixture('05-several-parts.mime') }, 'sources: [userdata]\n');
  const json = await n.cli(['plan', '--output', 'json']);
  t.equal(json.code, 0, json.stderr);
  t.same(
    planOf(json.stdout).map((x) => [x.name, x.kind, x.source]),
    [
      ['hello', 'exec', 'userdata:part[2]#tasks[0]'],
      ['tune', 'script', 'userdata:part[2]#tasks[1]'],
      ['second', 'exec', 'userdata:part[4]#tasks[0]'],
    ],
  );
  const text = await n.cli(['plan']);
  t.match(text.stdout, /hello\s+exec\s+yes\s+10m\s+userdata:part\[2\]#tasks\[0\]/);
});

const pullTags = { 'postjoin:10-prepull': `pull ${PAUSE}`, 'postjoin:enabled': 'true', Name: 'node-1' };

t.test('only tags configured, tags in instance metadata: plan shows tag origins', { skip: !kindNamed('pull') && 'the pull kind is not registered yet' }, async (t) => {
  const n = await node(t, { tags: pullTags }, 'sources: [tags]\n');
  const r = await n.cli(['plan', '--output', 'json']);
  t.equal(r.code, 0, r.stderr);
  t.match(planOf(r.stdout), [{ name: '10-prepull', kind: 'pull', source: 'tag:postjoin:10-prepull', pull: { images: [PAUSE] } }]);
  t.equal(n.ec2.requests.length, 0);
});

t.test('a tag value with a no-break space (pasted from a web page): exit 2 naming the key, the code point and the position', async (t) => {
  const n = await node(t, { tags: { 'postjoin:10-prepull': `pull\u00a0${PAUSE}` } }, 'sources: [tags]\n');
  const r = await n.cli(['plan']);
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, 'tag:postjoin:10-prepull: character 5 is U+00A0 NO-BREAK SPACE, which looks like a space but is not one');
});

t.test('tags through DescribeInstances (tags not in metadata): the same plan', { skip: !kindNamed('pull') && 'the pull kind is not registered yet' }, async (t) => {
  const n = await node(t, { tagsInMetadata: false }, 'sources: [tags]\n', pullTags);
  n.ec2.throttleNext(2);
  const r = await n.cli(['plan', '--output', 'json'], { AWS_ACCESS_KEY_ID: 'AKIDNODE', AWS_SECRET_ACCESS_KEY: 'x' });
  t.equal(r.code, 0, r.stderr);
  t.match(planOf(r.stdout), [{ name: '10-prepull', source: 'tag:postjoin:10-prepull' }]);
  t.same(
    n.ec2.requests.map((q) => [q.code ?? q.status, q.region, q.instanceIds]),
    [
      ['RequestLimitExceeded', 'eu-west-1', [INSTANCE]],
      ['RequestLimitExceeded', 'eu-west-1', [INSTANCE]],
      [200, 'eu-west-1', [INSTANCE]],
    ],
  );
});

t.test('the EC2 client is initialised only on the DescribeInstances path, never for --version or IMDS tags', async (t) => {
  const n = await node(t, { tags: { 'postjoin:10-w': 'exec /bin/true' } }, 'sources: [tags]\npolicy: { tags: { allow: [exec] } }\n', { 'postjoin:10-w': 'exec /bin/true' });
  const watch = await moduleInitWatcher(n.dir);
  const loaded = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const w = watch();
    const r = await n.cli(args, { ...w.env, ...env });
    t.equal(r.code, 0, r.stderr);
    return w.loaded();
  };
  const version = await loaded(['--version']);
  t.notOk(version('client-ec2') || version('src/host/aws/ec2-describe-tags.ts'), '--version');
  const viaImds = await loaded(['plan']);
  t.ok(viaImds('src/sources/tags-source.ts'), 'the preload sees module inits');
  t.notOk(viaImds('client-ec2') || viaImds('src/host/aws/ec2-describe-tags.ts'), 'plan with tags from IMDS');
  n.imds.state.tagsInMetadata = false;
  const viaEc2 = await loaded(['plan', '--output', 'json'], { AWS_ACCESS_KEY_ID: 'AKIDNODE', AWS_SECRET_ACCESS_KEY: 'x' });
  t.ok(viaEc2('node_modules/@aws-sdk/client-ec2/dist-es/EC2Client.js'), 'plan with tags from DescribeInstances');
});

t.test('DescribeInstances refused: exit 4 naming the permission and both fixes', async (t) => {
  const n = await node(t, { tagsInMetadata: false }, 'sources: [tags]\n', pullTags);
  n.ec2.refuseWith('AccessDenied');
  const r = await n.cli(['plan'], { AWS_ACCESS_KEY_ID: 'AKIDNODE', AWS_SECRET_ACCESS_KEY: 'x' });
  t.equal(r.code, 4);
  t.match(r.stderr, /postjoin plan: tags: cannot read this instance's tags: .* was refused \(AccessDenied: /);
  t.match(r.stderr, /Fix it: let the node role call ec2:DescribeInstances .* or, where no tag key of the instance holds "\/" or a space \(not on Karpenter\), allow tags in instance metadata/);
  const noCreds = await n.cli(['plan']);
  t.equal(noCreds.code, 4);
  t.match(noCreds.stderr, /no AWS credentials/);
});

t.test('a tag that runs a shell is refused by default: exit 2 before anything runs, nothing created', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-pwn-'));
  const target = join(dir, 'pwned');
  const n = await node(t, { tags: { 'postjoin:10-x': `exec /bin/sh -c "touch ${target}"` } }, 'sources: [tags]\n');
  const r = await n.cli(['run']);
  t.equal(r.code, 2);
  t.notOk(existsSync(target), 'nothing was created');
  t.match(r.stdout, /tag:postjoin:10-x: task \\"10-x\\": kind \\"exec\\" is not allowed from source \\"tags\\" \(policy.tags.allow: \[pull, unit, wait\]\)/);
  const status = await n.cli(['status', '--output', 'json']);
  t.match(JSON.parse(status.stdout), { result: 'invalid' });
});

t.test('IMDS down longer than imds.budget: exit 4 with a message naming IMDS and its endpoint', async (t) => {
  const n = await node(t, { userData: fixture('01-lf.mime') }, 'sources: [userdata]\nimds: { budget: 1s }\n');
  n.imds.setDown({ kind: 'drop' });
  const started = Date.now();
  const r = await n.cli(['plan']);
  t.equal(r.code, 4);
  t.match(r.stderr, `postjoin plan: IMDS ${n.imds.url}: /latest/user-data: no answer within imds.budget (1s)`);
  t.ok(Date.now() - started < 8_000);
  const run = await n.cli(['run']);
  t.equal(run.code, 4);
  t.match(JSON.parse((await n.cli(['status', '--output', 'json'])).stdout), { result: 'source-error' });
});

t.test('run: once-state is keyed by the IMDS instance ID, and sources and identity share one IMDS token', async (t) => {
  const n = await node(t, { userData: fixture('01-lf.mime') }, 'sources: [userdata]\n');
  const r = await n.cli(['run']);
  t.equal(r.code, 0, r.stdout);
  t.match(JSON.parse((await n.cli(['status', '--output', 'json'])).stdout), { instanceId: INSTANCE, result: 'succeeded' });
  t.equal(n.imds.tokensIssued(), 1, 'one session token for the user data and the instance ID');
});

t.test('Karpenter\'s user data (its last line a boundary line "--//", no closing one): baked tasks and its part\'s tasks run', async (t) => {
  for (const file of ['upstream/karpenter-al2023_mime_userdata_input.golden', '20-karpenter-form.mime']) {
    const dir = await mkdtemp(join(tmpdir(), 'postjoin-karpenter-'));
    await writeFile(join(dir, '10-baked.yaml'), `${HEADER}tasks:\n  - { name: baked, exec: { command: /bin/touch, args: [${join(dir, 'baked-ran')}] } }\n`);
    const n = await node(t, { userData: fixture(file) }, `sources: [file, userdata]\ntasksDir: ${dir}\n`);
    const plan = await n.cli(['plan', '--output', 'json']);
    t.equal(plan.code, 0, `${file}: plan: ${plan.stderr}`);
    const fromUserData = file.startsWith('upstream/') ? [] : [['hello', 'userdata:part[2]#tasks[0]'], ['tune', 'userdata:part[2]#tasks[1]']];
    t.same(planOf(plan.stdout).map((x) => [x.name, x.source]), [['baked', `file:${dir}/10-baked.yaml#tasks[0]`], ...fromUserData], file);
    const r = await n.cli(['run']);
    t.equal(r.code, 0, `${file}: run: ${r.stdout}`);
    t.ok(existsSync(join(dir, 'baked-ran')), `${file}: the baked task ran`);
  }
});

const TASKS = `${HEADER}tasks:
  - name: hello
    exec: { command: /bin/echo, args: ["it's", "a b", "$HOME;*"] }
  - name: tune
    script: |
      echo "tuned"
  - name: 30-last
    exec: { command: /bin/true }
`;

/** A plan task without what legitimately differs between sources. */
const comparable = ({ source: _s, name: _n, ...rest }: PlanTask) => rest;

t.test('round trip: render-userdata, then the userdata source, gives the file source\'s plan', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-rt-'));
  await writeFile(join(dir, 'tasks.yaml'), TASKS);
  const nodeconfig = join(await mkdtemp(join(tmpdir(), 'postjoin-nc-')), 'nodeconfig.yaml'); // not in tasksDir
  await writeFile(nodeconfig, 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec: {}\n');
  const rendered = await runCli(['render-userdata', '--nodeconfig', nodeconfig, '--tasks', join(dir, 'tasks.yaml')]);
  const fromFile = await node(t, {}, `sources: [file]\nimds: { enabled: false }\ntasksDir: ${dir}\n`);
  const viaUserData = await node(t, { userData: rendered.stdout }, 'sources: [userdata]\n');
  const a = planOf((await fromFile.cli(['plan', '--output', 'json'])).stdout);
  const b = planOf((await viaUserData.cli(['plan', '--output', 'json'])).stdout);
  t.equal(b.length, 3);
  t.same(b.map(comparable), a.map(comparable));
  t.same(
    b.map((x) => [x.name, x.source]),
    a.map((x, i) => [x.name, `userdata:part[1]#tasks[${i}]`]),
  );
});

async function tagsRoundTrip(t: Test, tasks: string, policy: string) {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-rt-'));
  await writeFile(join(dir, 'tasks.yaml'), tasks);
  const compiled = await runCli(['tags', '--tasks', join(dir, 'tasks.yaml'), '--output', 'json']);
  t.equal(compiled.code, 0, compiled.stderr);
  const tags = Object.fromEntries((JSON.parse(compiled.stdout) as { Key: string; Value: string }[]).map((x) => [x.Key, x.Value]));
  const fromFile = await node(t, {}, `sources: [file]\nimds: { enabled: false }\ntasksDir: ${dir}\n`);
  const viaTags = await node(t, { tags }, `sources: [tags]\n${policy}`);
  const a = planOf((await fromFile.cli(['plan', '--output', 'json'])).stdout);
  const b = planOf((await viaTags.cli(['plan', '--output', 'json'])).stdout);
  t.same(b.map(comparable), a.map(comparable));
  return b.map((x) => [x.name, x.source]);
}

t.test('round trip: tags, then the tags source, gives the file source\'s plan (names gain their order prefix)', async (t) => {
  // exec and script from tags need an explicit policy; the default refuses them (tested above).
  const names = await tagsRoundTrip(t, TASKS, 'policy: { tags: { allow: [exec, script] } }\n');
  t.same(names, [
    ['010-hello', 'tag:postjoin:010-hello'],
    ['020-tune', 'tag:postjoin:020-tune'],
    ['30-last', 'tag:postjoin:30-last'],
  ]);
});

const TAG_KINDS_TASKS = `${HEADER}tasks:
  - name: 10-prepull
    pull: { images: [${PAUSE}, "111122223333.dkr.ecr.us-west-2.amazonaws.com/app:1.2"] }
  - name: 20-agent
    unit: { name: amazon-cloudwatch-agent.service, action: restart }
  - name: 30-otel
    wait: { url: "http://127.0.0.1:4317/" }
  - name: 40-marker
    wait: { file: /run/agent-ready }
`;

t.test('round trip with pull, unit and wait under the default policy, with policy.units naming the unit (a unit task from tags needs it)', { skip: !['pull', 'unit', 'wait'].every((k) => kindNamed(k)) && 'pull, unit or wait is not registered yet' }, async (t) => {
  const names = await tagsRoundTrip(t, TAG_KINDS_TASKS, 'policy: { units: [amazon-cloudwatch-agent.service] }\n');
  t.same(
    names.map(([, source]) => source),
    ['tag:postjoin:10-prepull', 'tag:postjoin:20-agent', 'tag:postjoin:30-otel', 'tag:postjoin:40-marker'],
  );
});
