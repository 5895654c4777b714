// The package index, not deep dist-es paths: bundled, esbuild takes the ESM build (`sideEffects: false`) and keeps
// only the client and this command, and since this module is reached only through `await import()`, all of it
// sits in a lazily initialised block that `--version` or a run without ECR images never evaluates. Unbundled
// (tests), deep dist-es paths do not load at all.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import type { CriAuth } from '../containerd/cri-client.js';
import { sdkProxyAgents } from '../http/proxy-env.js';
import type { EcrRegistry } from './ecr-host.js';
import { SDK_IMDS } from './sdk-imds.js';

/** Errors that mean "not allowed" rather than "not working": the fix is IAM, not a retry. */
const REFUSED = new Set(['AccessDeniedException', 'AccessDenied', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException']);

/**
 * Registry credentials from ECR GetAuthorizationToken, as the kubelet's ECR credential provider gets them: the
 * SDK's default credential chain (on a node, the instance role through IMDS), the region from the registry's
 * host name, and no registryIds, so the token is the caller's, valid for every registry it may read there.
 * AWS_ENDPOINT_URL_ECR overrides the endpoint (tests point it at an emulator).
 */
export async function ecrCredentials(host: string, registry: EcrRegistry): Promise<CriAuth> {
  // The SDK's multi-line "upgrade to node >=22" warning would land in the journal of a node running the plain
  // bundle on nodejs20; the single executable embeds Node 22, and the operator cannot act on it either way.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = process.env.AWS_ENDPOINT_URL_ECR || undefined;
  // HTTPS_PROXY and NO_PROXY, as the kubelet reads them; the credential chain's IMDS reads never take a proxy.
  const agents = await sdkProxyAgents();
  const client = new ECRClient({
    region: registry.region,
    ...(endpoint ? { endpoint } : {}),
    ...(registry.fips ? { useFipsEndpoint: true } : {}),
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000, ...agents },
    ...SDK_IMDS,
  });
  try {
    const out = await client.send(new GetAuthorizationTokenCommand({}));
    const token = out.authorizationData?.[0]?.authorizationToken;
    if (!token) throw new Error('the answer held no authorization token');
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw new Error('the authorization token is not base64 "user:password"');
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  } catch (err) {
    throw new Error(explain(err, host, registry), { cause: err });
  } finally {
    client.destroy();
  }
}

function explain(err: unknown, host: string, registry: EcrRegistry): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const what = `cannot get an ECR token for ${host} (GetAuthorizationToken in ${registry.region}): ${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
  if (e.name === 'CredentialsProviderError') return `${what}; the node has no AWS credentials (is an instance role attached?)`;
  if (REFUSED.has(e.name ?? '') || e.$metadata?.httpStatusCode === 403) {
    return `${what}; the node role needs ecr:GetAuthorizationToken (AmazonEC2ContainerRegistryReadOnly grants it)`;
  }
  return what;
}
