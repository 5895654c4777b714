import type { Logger } from 'pino';
import { InvalidInput, formatProblem, type Problem } from '../../src/base/errors.js';
import type { AgentConfig } from '../../src/config/agent-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { ImdsClient } from '../../src/host/aws/imds-client.js';
import { buildPlan } from '../../src/plan/build-plan.js';
import type { Plan } from '../../src/plan/task.js';
import { tasksFromText } from '../../src/plan/task-document.js';
import type { SourceContext } from '../../src/sources/source.js';

export function config(overrides: Record<string, unknown> = {}): AgentConfig {
  return parseConfig(
    { sources: ['file'], imds: { enabled: false }, readiness: { units: [], kubeletHealthz: null, containerd: false }, ...overrides },
    '/test/config.yaml',
  );
}

/** What a source reads with, as `run` hands it over: the config's settings, and `imds` as the run's IMDS client. */
export function sourceContext(cfg: AgentConfig, log: Logger, imds?: ImdsClient): SourceContext {
  return { log, host: { imds: () => imds }, settings: cfg };
}

/** Builds a plan from one YAML task list, as if it were a file in tasks.d. */
export function planFrom(yaml: string, cfg: AgentConfig = config(), label = 'file:/etc/postjoin/tasks.d/10-x.yaml'): Plan {
  return buildPlan(tasksFromText(yaml, 'yaml', label, 'file'), cfg.policy);
}

/**
 * Builds a plan and returns every problem, formatted as the user sees it (or as `format` says); [] for a valid
 * plan. Any other error is rethrown: it is a crash, not a problem.
 */
export function planProblems(yaml: string, cfg: AgentConfig = config(), format: (p: Problem) => string = formatProblem): string[] {
  try {
    planFrom(yaml, cfg);
  } catch (err) {
    if (err instanceof InvalidInput) return err.problems.map(format);
    throw err;
  }
  return [];
}

export const HEADER = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\n';
