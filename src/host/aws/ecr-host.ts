/** Private ECR: `<account>.dkr.ecr[-fips].<region>.<partition domain>`, as the ECR credential provider matches it. */
const ECR_HOST = /^(\d{12})\.dkr[.-]ecr(-fips)?\.([a-z0-9][a-z0-9-]*)\.(amazonaws\.com(?:\.cn)?|on\.aws|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;

export interface EcrRegistry {
  account: string;
  region: string;
  fips: boolean;
}

export function ecrRegistry(host: string): EcrRegistry | undefined {
  const m = ECR_HOST.exec(host);
  if (!m) return undefined;
  return { account: m[1] as string, region: m[3] as string, fips: m[2] !== undefined };
}
