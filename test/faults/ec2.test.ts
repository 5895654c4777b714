// Fault injection, EC2 DescribeInstances (the tags fallback when tags are not in instance metadata): the real
// @aws-sdk/client-ec2 against the EC2 emulator behind a fault proxy, reached through the tags source as on a
// node. Verdicts: 5xx is retried until it clears, or is exit 4 naming the attempts; a malformed answer is exit 4
// naming DescribeInstances, at once, never a crash or a hang. (RequestLimitExceeded storms: test/host/aws/ec2-describe-tags.test.ts.)
import t from 'tap';
import { SourceUnreadable } from '../../src/base/errors.js';
import { createImdsClient } from '../../src/host/aws/imds-client.js';
import { tagsSource } from '../../src/sources/tags-source.js';
import { startEc2Server } from '../emulators/ec2-server.js';
import { startImdsServer } from '../emulators/imds-server.js';
import { startFaultProxy, type ProxyFault, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { memoryLogger } from '../helpers/memory-log.js';
import { config, sourceContext } from '../helpers/plan.js';
import { isolateSdkEnv } from '../helpers/sdk-env.js';

const INSTANCE = 'i-0fa17ec2fa17ec2fa';
const ROLE = { name: 'eks-node-role', accessKeyId: 'ASIAFAULTTEST', secretAccessKey: 'fault-secret', token: 'fault-session' };
const setSdkEnv = isolateSdkEnv(t);

const TAGS = { 'postjoin:10-prepull': 'pull public.ecr.aws/eks-distro/kubernetes/pause:3.9', Name: 'node' };
const isDescribe = (q: Omit<ProxiedRequest, 'fault'>) => q.method === 'POST';

/** IMDS without tags in metadata (so DescribeInstances is asked), the instance role, EC2 behind the fault proxy. */
async function world(t: { teardown(fn: () => unknown): void }, decide: (q: Omit<ProxiedRequest, 'fault'>) => ProxyFault, maxAttempts?: number) {
  const imds = await startImdsServer({ instanceId: INSTANCE, region: 'eu-west-1', tagsInMetadata: false, role: ROLE });
  const ec2 = await startEc2Server({ instances: { [INSTANCE]: TAGS } });
  const proxy = await startFaultProxy(ec2.url, decide);
  t.teardown(() => Promise.all([proxy.close(), ec2.close(), imds.close()]));
  setSdkEnv({
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
    AWS_ENDPOINT_URL_EC2: proxy.url,
    ...(maxAttempts ? { AWS_MAX_ATTEMPTS: String(maxAttempts) } : {}),
  });
  const mem = memoryLogger();
  const cfg = config({ sources: ['tags'], imds: { enabled: true, budget: '5s' } });
  const read = async () => {
    const started = Date.now();
    const out = await tagsSource.read(sourceContext(cfg, mem.log, createImdsClient({ endpoint: imds.url, budgetMs: 5000 }))).then(
      (tasks) => ({ tasks }),
      (err: unknown) => ({ err }),
    );
    return { ...out, ms: Date.now() - started };
  };
  return { proxy, ec2, mem, read };
}

t.test('EC2 answers 500 InternalError three times, then the tags: the SDK retries and the source reads them', async (t) => {
  const w = await world(t, (q) => (isDescribe(q) && q.nth <= 3 ? { kind: 'status', status: 500, type: 'text/xml', body: '<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message></Error></Errors><RequestID>r</RequestID></Response>' } : { kind: 'pass' }));
  const r = await w.read();
  t.notOk('err' in r && r.err, String('err' in r && r.err));
  t.same('tasks' in r && r.tasks.map((x) => x.origin), ['tag:postjoin:10-prepull']);
  t.equal(w.proxy.requests.filter((q) => isDescribe(q)).length, 4, 'three failures, then the answer');
  t.ok(w.mem.messages().includes('EC2 DescribeInstances answered after 4 attempts'), 'the retries are in the journal');
});

t.test('EC2 answering 503 Unavailable for longer than the retries: exit 4 naming DescribeInstances and the attempts', async (t) => {
  const w = await world(t, (q) => (isDescribe(q) ? { kind: 'status', status: 503, type: 'text/xml', body: '<Response><Errors><Error><Code>Unavailable</Code><Message>The server is overloaded</Message></Error></Errors></Response>' } : { kind: 'pass' }), 3);
  const r = await w.read();
  t.type('err' in r && r.err, SourceUnreadable);
  t.equal(('err' in r && (r.err as SourceUnreadable).exitCode) || 0, 4);
  t.match(String('err' in r && (r.err as Error).message), /^tags: EC2 DescribeInstances for i-0fa17ec2fa17ec2fa in eu-west-1 failed after 3 attempt\(s\): Unavailable/);
  t.equal(w.proxy.requests.filter((q) => isDescribe(q)).length, 3);
  t.ok(r.ms < 30_000, `${r.ms} ms`);
});

const MALFORMED: [string, ProxyFault][] = [
  ['XML cut off in the middle', { kind: 'status', status: 200, type: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet><item><instanceId>i-0fa17ec2f' }],
  ['not XML at all', { kind: 'status', status: 200, type: 'text/html', body: '<html><body>502 Bad Gateway from a captive proxy</body></html' }],
  ['an empty body', { kind: 'status', status: 200, type: 'text/xml', body: '' }],
  ['well-formed XML without the instance', { kind: 'status', status: 200, type: 'text/xml', body: '<?xml version="1.0"?><DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x</requestId><reservationSet/></DescribeInstancesResponse>' }],
  ['an error answer that is not XML', { kind: 'status', status: 400, type: 'text/plain', body: 'Bad Request' }],
];

for (const [what, fault] of MALFORMED) {
  t.test(`EC2 answers with ${what}: exit 4 naming DescribeInstances, promptly, no crash`, async (t) => {
    const w = await world(t, (q) => (isDescribe(q) ? fault : { kind: 'pass' }), 3);
    const r = await w.read();
    t.type('err' in r && r.err, SourceUnreadable, String('err' in r ? (r.err as Error)?.stack : 'no error'));
    t.equal(('err' in r && (r.err as SourceUnreadable).exitCode) || 0, 4);
    t.match(String('err' in r && (r.err as Error).message), /^tags: EC2 DescribeInstances (for i-0fa17ec2fa17ec2fa in eu-west-1 failed|did not return this instance)/);
    t.ok(r.ms < 30_000, `gave up in ${r.ms} ms`);
    t.comment(String('err' in r && (r.err as Error).message).slice(0, 300));
  });
}

t.test("the SDK's lookup of the instance role hangs once: retried after its 3 s timeout, and the tags are read", async (t) => {
  // The credential chain's defaults (1 s, no retry) turned one slow IMDS answer into exit 4 "no AWS credentials".
  const imds = await startImdsServer({ instanceId: INSTANCE, region: 'eu-west-1', tagsInMetadata: false, role: ROLE });
  const isRole = (q: Omit<ProxiedRequest, 'fault'>) => q.path.startsWith('/latest/meta-data/iam/security-credentials');
  let hung = false;
  const proxy = await startFaultProxy(imds.url, (q) => (isRole(q) && !hung ? ((hung = true), { kind: 'hang' }) : { kind: 'pass' }));
  const ec2 = await startEc2Server({ instances: { [INSTANCE]: TAGS } });
  t.teardown(() => Promise.all([proxy.close(), ec2.close(), imds.close()]));
  setSdkEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: proxy.url, AWS_ENDPOINT_URL_EC2: ec2.url });
  const cfg = config({ sources: ['tags'], imds: { enabled: true, budget: '5s' } });
  const started = Date.now();
  const tasks = await tagsSource.read(sourceContext(cfg, memoryLogger().log, createImdsClient({ endpoint: imds.url, budgetMs: 5000 })));
  const ms = Date.now() - started;
  t.same(tasks.map((x) => x.origin), ['tag:postjoin:10-prepull']);
  t.same(proxy.requests.filter(isRole).map((q) => q.fault), ['hang', 'pass', 'pass'], 'the role name asked twice, then its credentials');
  t.ok(ms >= 2_900 && ms < 10_000, `waited out one 3 s timeout, no more (${ms} ms)`);
  t.ok(proxy.requests.every((q) => q.method === 'PUT' || q.headers['x-aws-ec2-metadata-token']), 'every GET carried a token (IMDSv2 only)');
});

