import type { Logger } from 'pino';
import type { AgentConfig, SourceName } from '../config/agent-config.js';
import type { SourcedTask } from '../plan/sourced-task.js';

export interface SourceContext {
  config: AgentConfig;
  log: Logger;
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
