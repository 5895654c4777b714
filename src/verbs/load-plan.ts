import type { Logger } from 'pino';
import { formatProblem } from '../base/errors.js';
import type { AgentConfig } from '../config/agent-config.js';
import { loadConfig } from '../config/load-config.js';
import { createHost, type Host } from '../host/host.js';
import { buildPlan } from '../plan/build-plan.js';
import type { Plan } from '../plan/task.js';
import { readSources } from '../sources/read-sources.js';

export async function loadAgentConfig(path: string, log: Logger): Promise<AgentConfig> {
  const { config, fromFile } = await loadConfig(path);
  if (!fromFile) log.info({ config: path }, `no config at ${path}; using the built-in defaults`);
  return config;
}

/**
 * The Host as the config says: IMDS on or off, with its budget, and the run's log and stop signal, which ends
 * every IMDS read (with Stopped) when it fires.
 */
export function hostFor(config: AgentConfig, log: Logger, stop?: AbortSignal): Host {
  return createHost(config.imds.enabled ? { imds: { budgetMs: config.imds.budgetMs, log, ...(stop ? { stop } : {}) } } : {});
}

/**
 * The part `run` and `plan` share: every source, then one validated plan. The sources read IMDS through
 * `host` (one session token for sources and identity); `stop` is the run's stop signal, which ends every wait
 * for a source (IMDS, EC2) with Stopped.
 */
export async function loadPlan(config: AgentConfig, log: Logger, host: Pick<Host, 'imds'>, stop?: AbortSignal): Promise<Plan> {
  const sourced = await readSources(config.sources, { log, host, settings: config, ...(stop ? { stop } : {}) });
  const plan = buildPlan(sourced, config.policy);
  // Once, at plan time: the journal of `run` (before any task starts) and the stderr of `plan`.
  for (const w of plan.warnings ?? []) log.warn({ warning: w }, formatProblem(w));
  return plan;
}
