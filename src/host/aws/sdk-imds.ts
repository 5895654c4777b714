/**
 * For every AWS SDK client postjoin builds. The SDK hands the client config to its default credential chain,
 * which on a node reads the instance role from IMDS; these options are for that lookup (they are not in the
 * clients' declared config types, hence a spread):
 * - `ec2MetadataV1Disabled`: when its token request fails (403, 404, 405, a timeout, a 5xx) the chain would
 *   fall back to IMDSv1, unauthenticated GETs. postjoin is IMDSv2 only (SECURITY.md).
 * - `timeout`, `maxRetries`: the chain's defaults are 1 s and no retry, so one slow IMDS answer during a boot
 *   made DescribeInstances fail as "no AWS credentials". Like postjoin's own IMDS client: 3 s per request,
 *   and the role name and the credentials are each retried 3 times (the SDK does not retry its token request).
 */
export const SDK_IMDS: object = { ec2MetadataV1Disabled: true, timeout: 3_000, maxRetries: 3 };
