import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.js';
import { loadConfig } from '../config/load-config.js';
import type { ImdsClient } from '../host/aws/imds-client.js';
import { buildPlan } from '../plan/build-plan.js';
import type { Plan } from '../plan/task.js';
import { readSources } from '../sources/read-sources.js';
import { kindNames } from '../tasks/registry.js';

export async function loadAgentConfig(path: string, log: Logger): Promise<AgentConfig> {
  const { config, fromFile } = await loadConfig(path, kindNames());
  if (!fromFile) log.info({ config: path }, `no config at ${path}; using the built-in defaults`);
  return config;
}

/**
 * The part `run` and `plan` share: config, then every source, then one validated plan. `imds` is the run's
 * shared client (one session token for sources and identity); without it, one is made on first use. `stop`
 * is the run's stop signal, which ends every wait for a source (IMDS, EC2) with Stopped.
 */
export async function loadPlan(config: AgentConfig, log: Logger, imds?: ImdsClient, stop?: AbortSignal): Promise<Plan> {
  const sourced = await readSources({ config, log, ...(imds ? { imds } : {}), ...(stop ? { stop } : {}) });
  return buildPlan(sourced, config.policy);
}
