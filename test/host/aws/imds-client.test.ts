import t from 'tap';
import { SourceUnreadable } from '../../../src/base/errors.js';
import { DEFAULT_IMDS_ENDPOINT, createImdsClient, imdsEndpoint } from '../../../src/host/aws/imds-client.js';
import { imdsIdentity, readIdentityDocument } from '../../../src/host/aws/imds-identity.js';
import { startImdsServer, type ImdsEmulator } from '../../emulators/imds-server.js';

const client = (imds: ImdsEmulator, budgetMs = 5_000, extra: { requestTimeoutMs?: number; tokenTtlSeconds?: number } = {}) =>
  createImdsClient({ endpoint: imds.url, budgetMs, ...extra });
const gets = (imds: ImdsEmulator) => imds.requests.filter((r) => r.method === 'GET');

t.test('the endpoint comes from AWS_EC2_METADATA_SERVICE_ENDPOINT, else the link-local default', async (t) => {
  t.equal(imdsEndpoint({}), DEFAULT_IMDS_ENDPOINT);
  t.equal(imdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:8111/' }), 'http://127.0.0.1:8111');
  const imds = await startImdsServer();
  t.teardown(imds.close);
  const saved = process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.url;
  t.teardown(() => {
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = saved;
  });
  const c = createImdsClient({ budgetMs: 1000 });
  t.equal(c.endpoint, imds.url);
  t.equal(await c.getText('/latest/meta-data/instance-id'), 'i-0123456789abcdef0');
});

t.test('one session token serves every read, and every GET carries it (never IMDSv1)', async (t) => {
  const imds = await startImdsServer({ userData: 'hello' });
  t.teardown(imds.close);
  const c = client(imds);
  t.equal(await c.getText('/latest/meta-data/instance-id'), 'i-0123456789abcdef0');
  t.equal(await c.getText('/latest/user-data'), 'hello');
  t.equal(imds.tokensIssued(), 1);
  t.ok(gets(imds).every((r) => r.withToken), 'no GET without a token');
});

t.test('404 means absent: undefined at once, no retries', async (t) => {
  const imds = await startImdsServer();
  t.teardown(imds.close);
  t.equal(await client(imds).get('/latest/user-data'), undefined);
  t.equal(gets(imds).length, 1);
});

t.test('a refused token request is fatal, and no GET is ever sent without a token', async (t) => {
  const imds = await startImdsServer();
  t.teardown(imds.close);
  imds.inject({ kind: 'status', status: 405 });
  const err = await client(imds).get('/latest/meta-data/instance-id').catch((e: unknown) => e);
  t.type(err, SourceUnreadable);
  t.match((err as Error).message, /IMDSv2 is required, and postjoin never falls back to IMDSv1/);
  t.equal(gets(imds).length, 0);
});

t.test('403 is fatal at once: no two minutes of retries against a disabled IMDS', async (t) => {
  const imds = await startImdsServer();
  t.teardown(imds.close);
  imds.setDown({ kind: 'status', status: 403 });
  const started = Date.now();
  await t.rejects(client(imds, 60_000).get('/latest/user-data'), /HTTP 403/);
  t.ok(Date.now() - started < 2_000);
});

t.test('5xx bursts, slow answers and dropped connections are retried', async (t) => {
  const imds = await startImdsServer();
  t.teardown(imds.close);
  const c = client(imds, 10_000, { requestTimeoutMs: 200 });
  imds.inject({ kind: 'status', status: 503 }, 3);
  t.equal(await c.getText('/latest/meta-data/instance-id'), 'i-0123456789abcdef0', 'after a 503 burst');
  imds.inject({ kind: 'delay', ms: 1_000 }, 2);
  t.equal(await c.getText('/latest/meta-data/instance-id'), 'i-0123456789abcdef0', 'after two slow answers');
  imds.inject({ kind: 'drop' }, 2);
  t.equal(await c.getText('/latest/meta-data/instance-id'), 'i-0123456789abcdef0', 'after two dropped connections');
  t.equal(imds.requests.filter((r) => r.outcome === 503).length, 3);
  t.equal(imds.requests.filter((r) => r.outcome === 'dropped').length, 2);
});

t.test('a token that expires mid-run is refreshed on 401', async (t) => {
  const imds = await startImdsServer();
  t.teardown(imds.close);
  const c = client(imds);
  await c.get('/latest/meta-data/instance-id');
  imds.expireTokens(); // IMDS forgot it: a restart, or its TTL ran out
  t.equal(await c.getText('/latest/meta-data/instance-id'), 'i-0123456789abcdef0');
  t.equal(imds.tokensIssued(), 2);
  t.same(
    gets(imds).map((r) => r.outcome),
    [200, 401, 200],
  );
});

t.test('a token is renewed before its own TTL runs out, without a 401', async (t) => {
  const imds = await startImdsServer();
  t.teardown(imds.close);
  const c = client(imds, 5_000, { tokenTtlSeconds: 1 });
  await c.get('/latest/meta-data/instance-id');
  await new Promise((r) => setTimeout(r, 1_100));
  await c.get('/latest/meta-data/instance-id');
  t.equal(imds.tokensIssued(), 2);
  t.notOk(imds.requests.some((r) => r.outcome === 401));
});

t.test('IMDS down for longer than the budget is SourceUnreadable naming IMDS, the endpoint and the budget', async (t) => {
  const imds = await startImdsServer();
  t.teardown(imds.close);
  for (const fault of [{ kind: 'status', status: 503 }, { kind: 'drop' }, { kind: 'delay', ms: 5_000 }] as const) {
    imds.setDown(fault);
    const started = Date.now();
    const err = await client(imds, 800, { requestTimeoutMs: 200 })
      .get('/latest/user-data')
      .catch((e: unknown) => e);
    const took = Date.now() - started;
    t.type(err, SourceUnreadable, fault.kind);
    t.equal((err as SourceUnreadable).exitCode, 4);
    t.match((err as Error).message, `IMDS ${imds.url}: /latest/user-data: no answer within imds.budget (800ms)`);
    t.ok(took < 800 + 1_500, `${fault.kind}: gave up at the budget (${took} ms; the slack is for a loaded machine)`);
    t.ok(imds.requests.length > 2, 'retried meanwhile');
  }
});

t.test('an answer far larger than EC2 allows is refused rather than buffered', async (t) => {
  const imds = await startImdsServer({ userData: Buffer.alloc(3 * 1024 * 1024, 0x61) });
  t.teardown(imds.close);
  await t.rejects(client(imds, 30_000).get('/latest/user-data'), /\/latest\/user-data: the answer is larger than 2097152 bytes/);
  t.equal(imds.requests.length, 2, 'not retried: the token, then one GET');
});

t.test('identity: instance-id and the identity document, through the same client', async (t) => {
  const imds = await startImdsServer({ instanceId: 'i-0abc', region: 'eu-central-1' });
  t.teardown(imds.close);
  const c = client(imds);
  t.equal(await imdsIdentity(c).instanceId(), 'i-0abc');
  t.same(await readIdentityDocument(c), { instanceId: 'i-0abc', region: 'eu-central-1' });
  t.equal(imds.tokensIssued(), 1);
  imds.state.instanceId = '';
  await t.rejects(imdsIdentity(c).instanceId(), /no instance ID/);
});
