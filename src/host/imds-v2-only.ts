/**
 * For every AWS SDK client postjoin builds: its default credential chain reads the instance role from IMDS, and
 * when its token request fails (403, 404, 405, a timeout, a 5xx) it falls back to IMDSv1, unauthenticated GETs.
 * postjoin is IMDSv2 only (SECURITY.md). The SDK passes the client config to its credential provider, which
 * honours this option; it is not in the clients' declared config types, hence a spread.
 */
export const IMDSV2_ONLY: object = { ec2MetadataV1Disabled: true };
