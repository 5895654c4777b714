import type { Logger } from 'pino';

/**
 * What every task's environment gets about its node (design §4, issue 12 point 2), computed once per run.
 * POSTJOIN_TASK is per task and set by the runner; a task's own `env` wins over all of these.
 */
export const IMDS_CONTEXT: readonly [variable: string, path: string][] = [
  ['POSTJOIN_INSTANCE_ID', '/latest/meta-data/instance-id'],
  ['POSTJOIN_INSTANCE_TYPE', '/latest/meta-data/instance-type'],
  ['POSTJOIN_REGION', '/latest/meta-data/placement/region'],
  ['POSTJOIN_AVAILABILITY_ZONE', '/latest/meta-data/placement/availability-zone'],
];

export interface TaskContextInput {
  nodeName: string;
  /** An IMDS read (ImdsClient.getText); undefined when IMDS is off. */
  imds?: (path: string) => Promise<string | undefined>;
  /** The kubeconfig, for POSTJOIN_CLUSTER_NAME (its exec plugin's --cluster-name); read if it can be. */
  kubeconfig?: string;
  log?: Logger;
  /** The run's stop signal: once it fired, a read that failed is the stop's doing, not worth a warning. */
  stop?: AbortSignal;
}

export async function taskContextEnv(input: TaskContextInput): Promise<Record<string, string>> {
  const env: Record<string, string> = { POSTJOIN_NODE_NAME: input.nodeName };
  const imds = input.imds;
  if (imds) {
    // One IMDS value that cannot be read leaves its variable unset; the run already read the instance ID.
    const values = await Promise.all(
      IMDS_CONTEXT.map(async ([name, path]) => {
        try {
          return [name, (await imds(path))?.trim()] as const;
        } catch (err) {
          if (!input.stop?.aborted) input.log?.warn(`IMDS ${path}: ${(err as Error).message}; tasks run without ${name}`);
          return [name, undefined] as const;
        }
      }),
    );
    for (const [name, value] of values) if (value) env[name] = value;
  }
  if (input.kubeconfig) {
    const { readClusterName } = await import('../host/kube/kubeconfig.js');
    const cluster = await readClusterName(input.kubeconfig);
    if (cluster) env.POSTJOIN_CLUSTER_NAME = cluster;
  }
  return env;
}
