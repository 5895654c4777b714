import type { Logger } from 'pino';
import t from 'tap';
import { InvalidInput, SourceUnreadable } from '../../src/base/errors.js';
import { createImdsClient } from '../../src/host/aws/imds-client.js';
import { buildPlan } from '../../src/plan/build-plan.js';
import { silentLogger } from '../../src/report/logger.js';
import { tagsSource } from '../../src/sources/tags-source.js';
import { kindNamed } from '../../src/kinds/registry.js';
import { startEc2Server, type Ec2Emulator } from '../emulators/ec2-server.js';
import { startImdsServer, type ImdsEmulator, type ImdsEmulatorOptions } from '../emulators/imds-server.js';
import { memoryLogger } from '../helpers/memory-log.js';
import { config, sourceContext } from '../helpers/plan.js';
import { isolateSdkEnv } from '../helpers/sdk-env.js';

const INSTANCE = 'i-0fedcba9876543210';
const ROLE = { name: 'eks-node-role', accessKeyId: 'ASIAROLEKEY', secretAccessKey: 'secret', token: 'session' };
const setSdkEnv = isolateSdkEnv(t);

interface World {
  imds: ImdsEmulator;
  ec2: Ec2Emulator;
  read(): Promise<Awaited<ReturnType<typeof tagsSource.read>>>;
}

/**
 * An IMDS and an EC2 emulator, and the SDK's whole environment pointed at them: its credential chain can
 * reach only our IMDS emulator, never a real one, and finds no shared config files.
 */
async function world(t: { teardown(fn: () => unknown): void }, imdsOpts: ImdsEmulatorOptions, tags: Record<string, string>, env: Record<string, string> = {}, log: Logger = silentLogger()): Promise<World> {
  const imds = await startImdsServer({ instanceId: INSTANCE, region: 'eu-west-1', ...imdsOpts });
  const ec2 = await startEc2Server({ instances: { [INSTANCE]: tags } });
  t.teardown(() => Promise.all([imds.close(), ec2.close()]));
  setSdkEnv({
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
    AWS_ENDPOINT_URL_EC2: ec2.url,
    ...env,
  });
  const cfg = config({ sources: ['tags'], imds: { enabled: true, budget: '2s' } });
  return { imds, ec2, read: () => tagsSource.read(sourceContext(cfg, log, createImdsClient({ endpoint: imds.url, budgetMs: 2000 }))) };
}

const TAGS = { 'postjoin:20-wait': 'wait file /run/x', 'postjoin:10-prepull': 'pull public.ecr.aws/eks-distro/kubernetes/pause:3.9', Name: 'node' };
const names = (tasks: { origin: string }[]) => tasks.map((st) => st.origin);

t.test('tags in instance metadata: read from IMDS, EC2 never called', async (t) => {
  const w = await world(t, { tags: TAGS }, {});
  t.same(names(await w.read()), ['tag:postjoin:10-prepull', 'tag:postjoin:20-wait']);
  t.same(w.ec2.requests, []);
  t.notOk(w.imds.requests.some((r) => r.path === '/latest/meta-data/tags/instance/Name'), 'only postjoin: values are fetched');
  t.ok(w.imds.requests.some((r) => r.path === '/latest/meta-data/tags/instance/postjoin:10-prepull'), 'keys are asked for as written');
});

t.test('tags not in metadata (404): DescribeInstances with the instance role, in the region from IMDS', async (t) => {
  const w = await world(t, { tagsInMetadata: false, role: ROLE }, TAGS);
  t.same(names(await w.read()), ['tag:postjoin:10-prepull', 'tag:postjoin:20-wait']);
  t.match(w.ec2.requests, [{ action: 'DescribeInstances', instanceIds: [INSTANCE], region: 'eu-west-1', accessKeyId: ROLE.accessKeyId, status: 200 }]);
});

t.test('the fallback says once, at info, why the node calls EC2: tags not in metadata, as on every Karpenter node', async (t) => {
  const mem = memoryLogger();
  const w = await world(t, { tagsInMetadata: false, role: ROLE }, { ...TAGS, 'kubernetes.io/cluster/prod': 'owned', 'karpenter.sh/nodepool': 'default' }, {}, mem.log);
  t.equal((await w.read()).length, 2);
  const why = mem.records.filter((r) => /DescribeInstances/.test(String(r.msg)));
  t.equal(why.length, 1, 'one line');
  t.match(why[0], { level: 'info', instanceId: INSTANCE, region: 'eu-west-1' });
  t.equal(
    why[0]!.msg,
    'tags are not in instance metadata (IMDS answered 404), so this node reads them with EC2 DescribeInstances: usual on EKS, ' +
      'where Karpenter never allows tags in metadata and EC2 refuses them when any tag key holds "/" (kubernetes.io/cluster/…)',
  );
  const viaImds = memoryLogger();
  await (await world(t, { tags: TAGS }, {}, {}, viaImds.log)).read();
  t.notOk(viaImds.messages().some((m) => /DescribeInstances/.test(m)), 'nothing of the kind when IMDS has the tags');
});

t.test('DescribeInstances throttled twice, then OK: the SDK retries RequestLimitExceeded', async (t) => {
  const w = await world(t, { tagsInMetadata: false }, TAGS, { AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: 'x' });
  w.ec2.throttleNext(2);
  t.equal((await w.read()).length, 2);
  t.same(
    w.ec2.requests.map((r) => r.code ?? r.status),
    ['RequestLimitExceeded', 'RequestLimitExceeded', 200],
  );
});

for (const code of ['UnauthorizedOperation', 'AccessDenied'] as const) {
  t.test(`DescribeInstances refused (${code}): exit 4, naming the permission and both fixes`, async (t) => {
    const w = await world(t, { tagsInMetadata: false, role: ROLE }, TAGS);
    w.ec2.refuseWith(code);
    const err = (await w.read().catch((e: unknown) => e)) as SourceUnreadable;
    t.type(err, SourceUnreadable);
    t.equal(err.exitCode, 4);
    t.match(err.message, `tags: cannot read this instance's tags: they are not in instance metadata (IMDS answered 404), and EC2 DescribeInstances for ${INSTANCE} was refused (${code}:`);
    t.match(err.message, 'Fix it: let the node role call ec2:DescribeInstances (AmazonEKSWorkerNodePolicy grants it; ec2:DescribeTags is not enough)');
    t.match(err.message, 'or, where no tag key of the instance holds "/" or a space (not on Karpenter), allow tags in instance metadata (launch template MetadataOptions InstanceMetadataTags=enabled)');
    t.equal(w.ec2.requests.length, 1, 'a refusal is not retried');
  });
}

t.test('no credentials at all (no instance profile): exit 4 asking for one, and only our IMDS emulator was asked', async (t) => {
  const w = await world(t, { tagsInMetadata: false }, TAGS);
  const err = (await w.read().catch((e: unknown) => e)) as SourceUnreadable;
  t.type(err, SourceUnreadable);
  t.match(err.message, /could not be called: no AWS credentials \(CredentialsProviderError: [^)]*\): the node has no instance profile, or IMDS did not answer for its role\. Fix it/);
  t.match(err.message, 'Fix it: give the node an instance profile whose role may call ec2:DescribeInstances');
  t.notMatch(err.message, 'let the node role call', 'not the advice for a refusal');
  t.same(w.ec2.requests, []);
  t.ok(w.imds.requests.some((r) => r.path.startsWith('/latest/meta-data/iam/security-credentials')), 'the SDK looked for a role on our emulator');
});

t.test('postjoin:enabled=false switches the source off, on either path', async (t) => {
  const off = { ...TAGS, 'postjoin:enabled': 'False', 'postjoin:bad key': 'nonsense' };
  const viaImds = await world(t, { tags: off }, {});
  t.same(await viaImds.read(), []);
  const viaEc2 = await world(t, { tagsInMetadata: false, role: ROLE }, off);
  t.same(await viaEc2.read(), []);
});

t.test('a postjoin: key that breaks the task-name rule is exit 2, naming the key', async (t) => {
  const w = await world(t, { tags: { 'postjoin:10_ok': 'wait file /x', 'postjoin:.hidden': 'wait file /y' } }, {});
  const err = (await w.read().catch((e: unknown) => e)) as InvalidInput;
  t.type(err, InvalidInput);
  t.equal(err.exitCode, 2);
  t.match(err.message, /^tag:postjoin:\.hidden: tag key "postjoin:\.hidden": "\.hidden" is not a task name/);
});

t.test('policy: by default a tag cannot run commands; the denial names source, task and rule', async (t) => {
  const w = await world(t, { tags: { 'postjoin:10-x': 'exec /bin/sh -c "touch /tmp/pwned"', 'postjoin:20-s': 'script ZWNobyBoaQ==' } }, {});
  const tasks = await w.read();
  const err = t.throws(() => buildPlan(tasks, config().policy)) as unknown as InvalidInput;
  t.same(
    err.problems.map((p) => `${p.source}: ${p.message}`),
    [
      'tag:postjoin:10-x: task "10-x": kind "exec" is not allowed from source "tags" (policy.tags.allow: [pull, unit, wait])',
      'tag:postjoin:20-s: task "20-s": kind "script" is not allowed from source "tags" (policy.tags.allow: [pull, unit, wait])',
    ],
  );
  const permissive = config({ policy: { tags: { allow: ['exec', 'script'] } } }).policy;
  t.same(
    buildPlan(tasks, permissive).steps.map((s) => [s.name, s.kind, s.origin]),
    [
      ['10-x', 'exec', 'tag:postjoin:10-x'],
      ['20-s', 'script', 'tag:postjoin:20-s'],
    ],
    'an explicit policy may allow them',
  );
});

t.test('policy globs apply to tag tasks: a pull from a registry outside policy.registries is exit 2', { skip: !kindNamed('pull') && 'the pull kind is not registered yet' }, async (t) => {
  const w = await world(t, { tags: { 'postjoin:10-prepull': 'pull public.ecr.aws/eks-distro/kubernetes/pause:3.9' } }, {});
  const tasks = await w.read();
  const policy = config({ policy: { registries: ['*.dkr.ecr.*.amazonaws.com'] } }).policy;
  const err = t.throws(() => buildPlan(tasks, policy)) as unknown as InvalidInput;
  t.equal(err.exitCode, 2);
  t.match(err.message, /^tag:postjoin:10-prepull: task "10-prepull": image "public\.ecr\.aws\/eks-distro\/kubernetes\/pause:3\.9" is from registry "public\.ecr\.aws", which policy\.registries does not allow/);
  t.equal(buildPlan(tasks, config().policy).steps.length, 1, 'an empty list allows any registry');
});
