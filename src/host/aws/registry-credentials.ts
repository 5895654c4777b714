import type { CriAuth } from '../containerd/cri-client.js';
import { ecrRegistry, type EcrRegistry } from './ecr-host.js';

export type EcrTokenFetcher = (host: string, registry: EcrRegistry) => Promise<CriAuth>;

/** The AWS SDK is loaded only when a run actually pulls from private ECR: startup and other verbs never pay for it. */
const fetchWithSdk: EcrTokenFetcher = async (host, registry) => (await import('./ecr-auth.js')).ecrCredentials(host, registry);

/**
 * Registry credentials for one run. Private ECR gets one GetAuthorizationToken per registry host, shared by every
 * image and every pull task of the run (concurrent callers share the request in flight); a failed request is
 * forgotten, so a retried task asks again. Any other registry gets none: CRI then applies the node's own
 * registry configuration, or pulls anonymously.
 */
export class RegistryCredentials {
  private readonly ecrTokens = new Map<string, Promise<CriAuth>>();

  constructor(private readonly fetchEcrToken: EcrTokenFetcher = fetchWithSdk) {}

  forRegistry(host: string): Promise<CriAuth | undefined> {
    const ecr = ecrRegistry(host);
    if (!ecr) return Promise.resolve(undefined);
    let token = this.ecrTokens.get(host);
    if (!token) {
      const fetching = this.fetchEcrToken(host, ecr);
      token = fetching;
      this.ecrTokens.set(host, fetching);
      fetching.catch(() => {
        if (this.ecrTokens.get(host) === fetching) this.ecrTokens.delete(host);
      });
    }
    return token;
  }
}
