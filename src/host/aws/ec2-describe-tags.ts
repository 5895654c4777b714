// The package index, not deep paths: the bundler takes its ESM build (`sideEffects: false`) and keeps only the
// client and this one command, byte for byte what deep imports give; and unbundled (tests), deep dist-es paths
// do not load at all (extensionless specifiers in a package Node reads as CommonJS).
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { SourceUnreadable } from '../../base/errors.js';
import { Stopped, raceStop, reasonOf } from '../../base/stop-reason.js';
import { sdkProxyAgents } from '../http/proxy-env.js';
import { SDK_IMDS } from './sdk-imds.js';

/**
 * Errors that mean "not allowed", as opposed to "not working": no credentials at all, or credentials the
 * node role does not permit (EC2 says UnauthorizedOperation; other AWS APIs and proxies say AccessDenied).
 */
const REFUSED = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'AuthFailure',
  'CredentialsProviderError',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'ExpiredToken',
]);

/**
 * A boot storm makes EC2 throttle for as long as the storm lasts, not for a few seconds: 2,000 nodes booting in
 * a minute ask DescribeInstances about 33 times a second of a bucket refilled at 20 a second, so the last of
 * them wait a minute or more for a token. The SDK's standard retry backs off with full jitter from 1 s,
 * doubling to at most 20 s; 20 attempts keep trying for about 2.5 minutes on average (5 at most), which rides
 * that storm out. With 5 attempts (about 8 s), 29% of that fleet failed (bench/p6-fleet.ts, docs/performance.md).
 */
export const MAX_ATTEMPTS = 20;

/** AWS_MAX_ATTEMPTS, the AWS SDKs' own setting, when set (e.g. in the unit's environment); else ours. */
export function maxAttempts(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.AWS_MAX_ATTEMPTS);
  return Number.isInteger(n) && n >= 1 ? n : MAX_ATTEMPTS;
}

export interface DescribeTagsOptions {
  instanceId: string;
  /** From the IMDS identity document: the node's own region. */
  region: string;
  log: Logger;
  /** Default: AWS_ENDPOINT_URL_EC2, else the SDK's regional endpoint. */
  endpoint?: string;
  /** The run's stop: ends the call at once, in flight, in the SDK's retry backoff or in its credential lookup. */
  stop?: AbortSignal;
}

/**
 * This instance's tags from EC2 DescribeInstances. Not DescribeTags: AmazonEKSWorkerNodePolicy grants
 * ec2:DescribeInstances but not ec2:DescribeTags. The SDK's standard retry mode retries throttling
 * (RequestLimitExceeded) and 5xx with backoff and jitter; credentials come from its default chain, which on a
 * node is the instance role.
 */
export async function describeInstanceTags(opts: DescribeTagsOptions): Promise<Map<string, string>> {
  const endpoint = opts.endpoint ?? (process.env.AWS_ENDPOINT_URL_EC2 || undefined);
  // HTTPS_PROXY and NO_PROXY, as the kubelet reads them; the credential chain's IMDS reads never take a proxy.
  const agents = await sdkProxyAgents();
  const client = withoutNodeVersionWarning(
    () =>
      new EC2Client({
        region: opts.region,
        ...(endpoint ? { endpoint } : {}),
        maxAttempts: maxAttempts(),
        retryMode: 'standard',
        ...SDK_IMDS,
        requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000, ...agents },
      }),
  );
  try {
    // The SDK honours abortSignal in flight and in its backoff, but not while its credential chain asks IMDS for
    // the role: the race ends the wait there too. Whatever the SDK still has pending is dropped with the client.
    const out = await raceStop(
      client.send(new DescribeInstancesCommand({ InstanceIds: [opts.instanceId] }), opts.stop ? { abortSignal: opts.stop } : {}),
      opts.stop,
      () => `calling EC2 DescribeInstances for ${opts.instanceId}`,
    );
    const instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === opts.instanceId);
    if (!instance) throw new SourceUnreadable('tags', `EC2 DescribeInstances did not return this instance (${opts.instanceId})`);
    const attempts = out.$metadata.attempts ?? 1;
    if (attempts > 1) opts.log.info({ attempts }, `EC2 DescribeInstances answered after ${attempts} attempts`);
    return new Map((instance.Tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? ''] as const])));
  } catch (err) {
    if (err instanceof SourceUnreadable || err instanceof Stopped) throw err;
    if (opts.stop?.aborted) throw new Stopped(`${reasonOf(opts.stop)} while calling EC2 DescribeInstances for ${opts.instanceId}`);
    throw explain(err, opts);
  } finally {
    client.destroy();
  }
}

/**
 * On Node < 22 the SDK warns, in eight lines, about its own future releases: noise in a node's journal, where
 * the runtime is whatever the AMI ships. Its switch is an environment variable, set only while the client is
 * built so that it does not leak into the tasks' environment.
 */
function withoutNodeVersionWarning<T>(build: () => T): T {
  const key = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
  const before = process.env[key];
  process.env[key] = 'true';
  try {
    return build();
  } finally {
    if (before === undefined) delete process.env[key];
    else process.env[key] = before;
  }
}

function explain(err: unknown, opts: DescribeTagsOptions): SourceUnreadable {
  const e = err as { name?: string; message?: string; $metadata?: { attempts?: number; httpStatusCode?: number } };
  const code = e.name ?? 'Error';
  const what = `${code}: ${e.message ?? String(err)}`;
  if (REFUSED.has(code) || e.$metadata?.httpStatusCode === 403) {
    // No credentials at all is rarely a permission problem: no instance profile, or IMDS not answering for it.
    const noCredentials = code === 'CredentialsProviderError';
    const why = noCredentials
      ? `could not be called: no AWS credentials (${what}): the node has no instance profile, or IMDS did not answer for its role`
      : `was refused (${what})`;
    const roleFix = noCredentials ? 'give the node an instance profile whose role may call' : 'let the node role call';
    // The permission first: tags in metadata are impossible where a tag key holds "/" (EC2 then refuses to launch)
    // and on Karpenter, which always launches with them off; that is most EKS nodes.
    return new SourceUnreadable(
      'tags',
      `cannot read this instance's tags: they are not in instance metadata (IMDS answered 404), and EC2 DescribeInstances ` +
        `for ${opts.instanceId} ${why}. Fix it: ${roleFix} ec2:DescribeInstances ` +
        `(AmazonEKSWorkerNodePolicy grants it; ec2:DescribeTags is not enough), or, where no tag key of the instance ` +
        `holds "/" or a space (not on Karpenter), allow tags in instance metadata (launch template MetadataOptions ` +
        `InstanceMetadataTags=enabled)`,
      { cause: err },
    );
  }
  const attempts = e.$metadata?.attempts;
  return new SourceUnreadable(
    'tags',
    `EC2 DescribeInstances for ${opts.instanceId} in ${opts.region} failed${attempts ? ` after ${attempts} attempt(s)` : ''}: ${what}`,
    { cause: err },
  );
}
