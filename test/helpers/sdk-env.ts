// For tests that run the AWS SDK in the test process: every environment variable it reads is saved at load and
// restored at teardown, and each world sets exactly the endpoints it emulates, so nothing reaches a real
// endpoint, the real IMDS or the host's AWS configuration.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SDK_ENV = [
  'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_MAX_ATTEMPTS',
  'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_SERVICE_ENDPOINT', 'AWS_EC2_METADATA_DISABLED', 'AWS_EC2_METADATA_V1_DISABLED',
  'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_EC2', 'AWS_ENDPOINT_URL_ECR', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN',
];

/** Saves the SDK's environment now and restores it at the test file's teardown; returns the setter for one world. */
export function isolateSdkEnv(t: { teardown(fn: () => void): void }): (env: NodeJS.ProcessEnv) => void {
  const saved = Object.fromEntries(SDK_ENV.map((k) => [k, process.env[k]]));
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const noFiles = mkdtempSync(join(tmpdir(), 'postjoin-no-aws-'));
  return (env) => {
    for (const k of SDK_ENV) delete process.env[k];
    Object.assign(process.env, { AWS_CONFIG_FILE: join(noFiles, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(noFiles, 'credentials'), ...env });
  };
}
