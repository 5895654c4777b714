import type { Logger } from 'pino';
import type { AgentConfig, SourceName } from '../config/agent-config.js';
import { createImdsClient, type ImdsClient } from '../host/aws/imds-client.js';
import type { SourcedTask } from '../plan/sourced-task.js';

export interface SourceContext {
  config: AgentConfig;
  log: Logger;
  /**
   * One IMDS client, so the sources and the instance identity share one session token per run. Created from
   * the config on first use when the caller did not pass one (see `sourceImds`).
   */
  imds?: ImdsClient;
  /**
   * The run's one stop signal (SIGTERM, the run deadline): every wait a source makes (IMDS, EC2) ends with
   * Stopped when it fires. Absent for verbs that are not a run (`plan`).
   */
  stop?: AbortSignal;
}

/**
 * One place tasks come from. Like nodeadm's ConfigProvider: one method, one file per source.
 * `read` returns the tasks in the source's own order. An absent source (no directory, no user data, no
 * tags) returns []. Invalid content throws InvalidInput (exit 2); an unreadable source throws
 * SourceUnreadable (exit 4).
 */
export interface TaskSource {
  readonly name: SourceName;
  read(ctx: SourceContext): Promise<SourcedTask[]>;
}

/** The run's IMDS client, created on first use. (The config refuses IMDS sources when `imds.enabled` is false.) */
export function sourceImds(ctx: SourceContext): ImdsClient {
  ctx.imds ??= createImdsClient({ budgetMs: ctx.config.imds.budgetMs, log: ctx.log, ...(ctx.stop ? { stop: ctx.stop } : {}) });
  return ctx.imds;
}
