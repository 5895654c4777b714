// A "node" for end-to-end runs of the bundle: a temp dir with a config, and an environment whose IMDS and EC2
// are emulators on 127.0.0.1 (or a fault proxy in front of them). The AWS SDK's whole environment is pinned,
// so nothing can reach a real IMDS, a real endpoint or the host's AWS configuration.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from './cli.js';

export interface FakeNode {
  dir: string;
  stateDir: string;
  configPath: string;
  cli(args: string[], opts?: { env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void; timeoutMs?: number }): Promise<CliResult>;
}

/**
 * The AWS SDK's whole environment for a run against emulators: the endpoints given (anything else is a closed
 * port on 127.0.0.1), no credentials, profile or region from the host, HOME in the test's own dir.
 */
export function emulatedAwsEnv(dir: string, endpoints: { imds: string; ec2?: string; ecr?: string }): NodeJS.ProcessEnv {
  return {
    AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoints.imds,
    AWS_ENDPOINT_URL_EC2: endpoints.ec2 ?? 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_ECR: endpoints.ecr ?? 'http://127.0.0.1:9',
    HOME: dir,
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_REGION: '',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
    AWS_WEB_IDENTITY_TOKEN_FILE: '',
  };
}

export async function fakeNode(opts: { imds: string; ec2?: string; config: string }): Promise<FakeNode> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-fault-'));
  const configPath = join(dir, 'config.yaml');
  const stateDir = join(dir, 'state');
  await writeFile(configPath, `readiness: { units: [], kubeletHealthz: null, containerd: false }\n${opts.config}`);
  const env = emulatedAwsEnv(dir, opts);
  return {
    dir,
    stateDir,
    configPath,
    cli: (args, o = {}) => runCli([...args, '--config', configPath, '--state-dir', stateDir], { env: { ...env, ...o.env }, ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) }),
  };
}
