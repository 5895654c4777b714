import { SourceUnreadable } from '../../base/errors.js';
import type { InstanceIdentity } from '../files/instance-identity.js';
import type { ImdsClient } from './imds-client.js';

export const INSTANCE_ID_PATH = '/latest/meta-data/instance-id';
export const IDENTITY_DOCUMENT_PATH = '/latest/dynamic/instance-identity/document';

/** The EC2 instance ID, for `once`: unlike /etc/machine-id it differs on every instance launched from an AMI. */
export function imdsIdentity(imds: ImdsClient): InstanceIdentity {
  return {
    async instanceId() {
      const id = (await imds.getText(INSTANCE_ID_PATH))?.trim();
      if (!id) throw new SourceUnreadable(`IMDS ${imds.endpoint}`, `${INSTANCE_ID_PATH}: no instance ID`);
      return id;
    },
  };
}

export interface IdentityDocument {
  instanceId: string;
  region: string;
}

/** The signed identity document's instance ID and region: the region the EC2 API is called in. */
export async function readIdentityDocument(imds: ImdsClient): Promise<IdentityDocument> {
  const text = await imds.getText(IDENTITY_DOCUMENT_PATH);
  const fail = (why: string) => new SourceUnreadable(`IMDS ${imds.endpoint}`, `${IDENTITY_DOCUMENT_PATH}: ${why}`);
  if (text === undefined) throw fail('absent');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw fail('not JSON');
  }
  const { instanceId, region } = (doc ?? {}) as Record<string, unknown>;
  if (typeof instanceId !== 'string' || !instanceId || typeof region !== 'string' || !region) {
    throw fail('has no instanceId or region');
  }
  return { instanceId, region };
}
