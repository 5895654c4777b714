// SECURITY.md, "IMDSv2 only": no request to IMDS without a session token, ever: not from postjoin's own client,
// and not from the AWS SDK's credential chain (DescribeInstances fallback, ECR tokens), whose default falls back
// to IMDSv1 when a token request fails. The IMDS emulator sits behind a proxy that records every request.
import t from 'tap';
import { SourceUnreadable } from '../../src/base/errors.js';
import { ecrCredentials } from '../../src/host/aws/ecr-auth.js';
import { createImdsClient } from '../../src/host/aws/imds-client.js';
import { ecrRegistry } from '../../src/host/aws/ecr-host.js';
import { tagsSource } from '../../src/sources/tags-source.js';
import { startEc2Server } from '../emulators/ec2-server.js';
import { startEcrServer } from '../emulators/ecr-server.js';
import { startImdsServer } from '../emulators/imds-server.js';
import { logLines } from '../helpers/cli.js';
import { fakeNode } from '../helpers/fake-node.js';
import { startFaultProxy, type FaultProxy, type ProxyFault, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { silentLogger } from '../../src/report/logger.js';
import { config, sourceContext } from '../helpers/plan.js';
import { isolateSdkEnv } from '../helpers/sdk-env.js';

const INSTANCE = 'i-0badc0ffee0000001';
const ROLE = { name: 'eks-node-role', accessKeyId: 'ASIAIMDSV2ONLY', secretAccessKey: 'role-secret', token: 'role-session' };
const setSdkEnv = isolateSdkEnv(t);

const tokenless = (p: FaultProxy) => p.requests.filter((q) => q.method === 'GET' && typeof q.headers['x-aws-ec2-metadata-token'] !== 'string');

/** IMDS (with the instance role, tags not in metadata) behind a recording proxy; the SDK pointed only at emulators. */
async function world(t: { teardown(fn: () => unknown): void }, decide: (q: Omit<ProxiedRequest, 'fault'>) => ProxyFault) {
  const imds = await startImdsServer({ instanceId: INSTANCE, region: 'us-west-2', tagsInMetadata: false, role: ROLE });
  const proxy = await startFaultProxy(imds.url, decide);
  const ec2 = await startEc2Server({ instances: { [INSTANCE]: { 'postjoin:10-x': 'wait file /' } } });
  const ecr = await startEcrServer({ password: 'ecr-password-never-logged' });
  t.teardown(() => Promise.all([proxy.close(), imds.close(), ec2.close(), ecr.close()]));
  setSdkEnv({
    AWS_EC2_METADATA_SERVICE_ENDPOINT: proxy.url,
    AWS_ENDPOINT_URL_EC2: ec2.url,
    AWS_ENDPOINT_URL_ECR: ecr.url,
    AWS_MAX_ATTEMPTS: '1',
  });
  return { imds, proxy, ec2, ecr };
}

t.test('postjoin\'s own IMDS client: every GET carries the token; a refused token request sends no GET at all (exit 4)', async (t) => {
  // Client-level proofs: test/host/aws/imds-client.test.ts, "one session token serves every read, and every GET carries it
  // (never IMDSv1)" and "a refused token request is fatal, and no GET is ever sent without a token". End to end:
  for (const status of [403, 404, 405]) {
    const imds = await startImdsServer({ userData: 'x' });
    const proxy = await startFaultProxy(imds.url, (q) => (q.method === 'PUT' ? { kind: 'status', status } : { kind: 'pass' }));
    t.teardown(() => Promise.all([proxy.close(), imds.close()]));
    const node = await fakeNode({ imds: proxy.url, config: 'sources: [userdata]\nimds: { budget: 2s }\n' });
    const r = await node.cli(['run']);
    t.equal(r.code, 4, `token PUT answered ${status}: exit 4`);
    t.equal(proxy.requests.filter((q) => q.method === 'GET').length, 0, `token PUT answered ${status}: no GET was sent`);
    t.match(logLines(r.stdout).filter((l) => l.level === 'error').at(-1), { level: 'error', msg: /session token/ });
  }
});

t.test('the AWS SDK (DescribeInstances fallback): its credential fetch never falls back to IMDSv1 when its token request fails', async (t) => {
  for (const status of [403, 404, 405, 500]) {
    // Our client takes the first token; the second PUT is the SDK's credential chain.
    const w = await world(t, (q) => (q.method === 'PUT' && q.nth === 2 ? { kind: 'status', status } : { kind: 'pass' }));
    const cfg = config({ sources: ['tags'], imds: { enabled: true, budget: '3s' } });
    const err = await tagsSource.read(sourceContext(cfg, silentLogger(), createImdsClient({ endpoint: w.proxy.url, budgetMs: 3000 }))).catch((e: unknown) => e);
    t.type(err, SourceUnreadable, `token refused with ${status}: the tags source is unreadable (exit 4), not read through IMDSv1`);
    t.same(tokenless(w.proxy).map((q) => q.path), [], `token refused with ${status}: no GET without a token`);
  }
  const ok = await world(t, () => ({ kind: 'pass' }));
  const tasks = await tagsSource.read(sourceContext(config({ sources: ['tags'], imds: { enabled: true } }), silentLogger(), createImdsClient({ endpoint: ok.proxy.url, budgetMs: 3000 })));
  t.same(tasks.map((x) => x.origin), ['tag:postjoin:10-x'], 'with IMDSv2 working, the role credentials are fetched with a token and the tags are read');
  t.same(tokenless(ok.proxy), []);
  t.ok(ok.proxy.requests.some((q) => q.path.startsWith('/latest/meta-data/iam/security-credentials/')), 'the role came from IMDS');
});

t.test('the AWS SDK (ECR tokens for pulls): the same, for GetAuthorizationToken\'s credentials', async (t) => {
  const registry = ecrRegistry('111122223333.dkr.ecr.us-west-2.amazonaws.com')!;
  for (const status of [403, 500]) {
    const w = await world(t, (q) => (q.method === 'PUT' ? { kind: 'status', status } : { kind: 'pass' }));
    await t.rejects(ecrCredentials('111122223333.dkr.ecr.us-west-2.amazonaws.com', registry), /no AWS credentials|Could not load credentials/, `token refused with ${status}: no credentials`);
    t.same(tokenless(w.proxy).map((q) => q.path), [], `token refused with ${status}: no GET without a token`);
    t.equal(w.ecr.tokenCalls().length, 0);
  }
  const ok = await world(t, () => ({ kind: 'pass' }));
  t.same(await ecrCredentials('111122223333.dkr.ecr.us-west-2.amazonaws.com', registry), { username: 'AWS', password: 'ecr-password-never-logged' });
  t.same(tokenless(ok.proxy), []);
});
