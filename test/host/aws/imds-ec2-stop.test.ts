// The run's stop signal reaches the IMDS client and the EC2 call themselves (the end-to-end cases, through the
// bundle, are in test/verbs/stop-before-tasks.test.ts): a read in its backoff, a request in flight, the SDK backing off under
// throttling, and the SDK's credential lookup, which its own abortSignal does not cover. Each ends at once with
// Stopped (exit 1), whose message leads with the stop.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { describeInstanceTags } from '../../../src/host/aws/ec2-describe-tags.js';
import { createImdsClient } from '../../../src/host/aws/imds-client.js';
import { silentLogger } from '../../../src/report/logger.js';
import { StopReason, Stopped } from '../../../src/base/stop-reason.js';
import { startEc2Server } from '../../emulators/ec2-server.js';
import { startImdsServer } from '../../emulators/imds-server.js';
import { isolateSdkEnv } from '../../helpers/sdk-env.js';

const setSdkEnv = isolateSdkEnv(t);

/** Aborts with SIGTERM once `ready()` holds; resolves with the time of the abort. */
async function sigtermWhen(ready: () => boolean): Promise<{ ctl: AbortController; at: Promise<number> }> {
  const ctl = new AbortController();
  const at = (async () => {
    while (!ready()) await new Promise((r) => setTimeout(r, 10));
    ctl.abort(StopReason.signal('SIGTERM'));
    return Date.now();
  })();
  return { ctl, at };
}

async function stoppedWithin(t: Test, work: Promise<unknown>, at: Promise<number>, message: RegExp): Promise<void> {
  const err = await work.then(() => undefined, (e: unknown) => e);
  const ms = Date.now() - (await at);
  t.type(err, Stopped);
  t.match(err, { exitCode: 1, message });
  t.ok(ms < 1_000, `ended ${ms} ms after the stop`);
}

t.test('IMDS: a read in its backoff, and a request in flight, end at once on the stop', async (t) => {
  const imds = await startImdsServer({ userData: 'x' });
  t.teardown(imds.close);
  imds.setDown({ kind: 'status', status: 503 });
  const backoff = await sigtermWhen(() => imds.requests.length >= 3);
  const client = createImdsClient({ endpoint: imds.url, budgetMs: 120_000, stop: backoff.ctl.signal });
  await stoppedWithin(t, client.get('/latest/user-data'), backoff.at, /^stopped by SIGTERM while reading IMDS \/latest\/user-data \(last error: session token: HTTP 503\)$/);

  imds.setDown({ kind: 'delay', ms: 60_000 });
  const before = imds.requests.length;
  const inFlight = await sigtermWhen(() => imds.requests.length > before);
  const hung = createImdsClient({ endpoint: imds.url, budgetMs: 120_000, stop: inFlight.ctl.signal });
  await stoppedWithin(t, hung.get('/latest/user-data'), inFlight.at, /^stopped by SIGTERM while reading IMDS \/latest\/user-data$/);

  const already = new AbortController();
  already.abort(StopReason.deadline(1000));
  const n = imds.requests.length;
  await t.rejects(createImdsClient({ endpoint: imds.url, budgetMs: 1000, stop: already.signal }).get('/x'), { name: 'Stopped', message: /^the run deadline \(runTimeout 1s\) passed while reading IMDS \/x$/ });
  t.equal(imds.requests.length, n, 'a stopped run sends nothing');
});

t.test('EC2 DescribeInstances: the SDK backing off under throttling ends at once on the stop', async (t) => {
  const imds = await startImdsServer();
  const ec2 = await startEc2Server({ instances: { 'i-1': {} } });
  t.teardown(() => Promise.all([imds.close(), ec2.close()]));
  setSdkEnv({ AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url });
  ec2.throttleNext(1_000_000);
  const { ctl, at } = await sigtermWhen(() => ec2.requests.length >= 2);
  const work = describeInstanceTags({ instanceId: 'i-1', region: 'us-east-1', log: silentLogger(), endpoint: ec2.url, stop: ctl.signal });
  await stoppedWithin(t, work, at, /^stopped by SIGTERM while calling EC2 DescribeInstances for i-1$/);
});

t.test('EC2 DescribeInstances: the stop also ends the SDK\'s credential lookup (the role from an IMDS that hangs)', async (t) => {
  // No keys in the environment: the SDK asks IMDS for the role, and this IMDS never answers.
  const asked: string[] = [];
  const hung = http.createServer((req) => void asked.push(req.url ?? ''));
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    hung.closeAllConnections();
    return new Promise((r) => hung.close(r));
  });
  const ec2 = await startEc2Server({ instances: { 'i-1': {} } });
  t.teardown(ec2.close);
  setSdkEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${(hung.address() as AddressInfo).port}` });
  const { ctl, at } = await sigtermWhen(() => asked.length >= 1);
  const work = describeInstanceTags({ instanceId: 'i-1', region: 'us-east-1', log: silentLogger(), endpoint: ec2.url, stop: ctl.signal });
  await stoppedWithin(t, work, at, /^stopped by SIGTERM while calling EC2 DescribeInstances for i-1$/);
  t.equal(ec2.requests.length, 0, 'EC2 itself was never reached');
});
