import t from 'tap';
import { SourceUnreadable } from '../../../src/base/errors.js';
import { MAX_ATTEMPTS, describeInstanceTags, maxAttempts } from '../../../src/host/aws/ec2-describe-tags.js';
import { silentLogger } from '../../../src/report/logger.js';
import { startEc2Server } from '../../emulators/ec2-server.js';
import { startImdsServer } from '../../emulators/imds-server.js';

// Dummy credentials, and the SDK's IMDS credential lookup pointed at an emulator: never the real IMDS.
const keys = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_EC2_METADATA_SERVICE_ENDPOINT'] as const;
const saved = keys.map((k) => process.env[k]);
t.teardown(() =>
  keys.forEach((k, i) => {
    if (saved[i] === undefined) delete process.env[k];
    else process.env[k] = saved[i];
  }),
);

t.before(async () => {
  const imds = await startImdsServer();
  t.teardown(imds.close);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url });
});

const ids = Array.from({ length: 12 }, (_, i) => `i-${String(i).padStart(17, '0')}`);

t.test('a boot storm against EC2\'s token bucket: throttled requests are retried until all nodes have their tags', async (t) => {
  const ec2 = await startEc2Server({
    instances: Object.fromEntries(ids.map((id) => [id, { 'postjoin:10-x': `wait file /${id}` }])),
    tokenBucket: { capacity: 4, refillPerSecond: 8 },
  });
  t.teardown(ec2.close);
  const all = await Promise.all(ids.map((instanceId) => describeInstanceTags({ instanceId, region: 'us-east-1', log: silentLogger(), endpoint: ec2.url })));
  all.forEach((tags, i) => t.equal(tags.get('postjoin:10-x'), `wait file /${ids[i]}`));
  const throttled = ec2.requests.filter((r) => r.code === 'RequestLimitExceeded').length;
  t.ok(throttled > 0, `${throttled} request(s) were throttled and retried`);
});

t.test('the token bucket refills at its rate (the benchmark setting: 100 tokens, 20/s)', async (t) => {
  let now = 0;
  const ec2 = await startEc2Server({ instances: { [ids[0]!]: {} }, tokenBucket: { capacity: 100, refillPerSecond: 20 }, clock: () => now });
  t.teardown(ec2.close);
  const body = `Action=DescribeInstances&Version=2016-11-15&InstanceId.1=${ids[0]}`;
  const auth = { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00' };
  const post = () => fetch(ec2.url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth } }).then((r) => r.status);
  const burst = async (n: number) => {
    const statuses = await Promise.all(Array.from({ length: n }, post));
    return [statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 503).length];
  };
  t.same(await burst(110), [100, 10], '100 tokens, then RequestLimitExceeded');
  now += 500;
  t.same(await burst(20), [10, 10], '10 tokens back after 0.5 s');
  now += 60_000;
  t.same(await burst(120), [100, 20], 'never more than the capacity');
});

t.test('an unknown instance is an unreadable source, not a crash', async (t) => {
  const ec2 = await startEc2Server({ instances: {} });
  t.teardown(ec2.close);
  const err = await describeInstanceTags({ instanceId: 'i-404', region: 'us-east-1', log: silentLogger(), endpoint: ec2.url }).catch((e: unknown) => e);
  t.type(err, SourceUnreadable);
  t.match((err as Error).message, /^tags: EC2 DescribeInstances for i-404 in us-east-1 failed after 1 attempt\(s\): InvalidInstanceID.NotFound/);
});

t.test('throttling that outlasts the retries is exit 4, saying how many attempts were made', async (t) => {
  const ec2 = await startEc2Server({ instances: { [ids[0]!]: {} } });
  t.teardown(ec2.close);
  ec2.throttleNext(100);
  // AWS_MAX_ATTEMPTS keeps this test short: the default's backoff alone takes minutes.
  withEnv(t, 'AWS_MAX_ATTEMPTS', '3');
  const err = await describeInstanceTags({ instanceId: ids[0]!, region: 'us-east-1', log: silentLogger(), endpoint: ec2.url }).catch((e: unknown) => e);
  t.type(err, SourceUnreadable);
  t.match((err as Error).message, /failed after 3 attempt\(s\): RequestLimitExceeded/);
  t.equal(ec2.requests.length, 3, 'exactly the attempts AWS_MAX_ATTEMPTS allows');
});

t.test('attempts: 20 by default, enough for a boot storm of minutes; AWS_MAX_ATTEMPTS overrides it when it is a positive integer', async (t) => {
  t.equal(MAX_ATTEMPTS, 20);
  t.equal(maxAttempts({}), 20);
  t.equal(maxAttempts({ AWS_MAX_ATTEMPTS: '5' }), 5);
  for (const bad of ['', '0', '-1', '2.5', 'many']) t.equal(maxAttempts({ AWS_MAX_ATTEMPTS: bad }), 20, `AWS_MAX_ATTEMPTS=${JSON.stringify(bad)} is ignored`);
});

t.test('AWS_MAX_ATTEMPTS is the number of attempts the SDK makes when throttled', async (t) => {
  const ec2 = await startEc2Server({ instances: { [ids[0]!]: { 'postjoin:10-x': 'wait file /x' } } });
  t.teardown(ec2.close);
  ec2.throttleNext(3);
  withEnv(t, 'AWS_MAX_ATTEMPTS', '4');
  const tags = await describeInstanceTags({ instanceId: ids[0]!, region: 'us-east-1', log: silentLogger(), endpoint: ec2.url });
  t.equal(tags.get('postjoin:10-x'), 'wait file /x');
  t.same(ec2.requests.map((r) => r.code ?? r.status), ['RequestLimitExceeded', 'RequestLimitExceeded', 'RequestLimitExceeded', 200]);
});

function withEnv(t: { teardown(fn: () => void): void }, key: string, value: string): void {
  const before = process.env[key];
  process.env[key] = value;
  t.teardown(() => {
    if (before === undefined) delete process.env[key];
    else process.env[key] = before;
  });
}
