import type { AgentConfig } from '../../src/config/agent-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import { buildPlan } from '../../src/plan/build-plan.js';
import type { Plan } from '../../src/plan/task.js';
import { tasksFromText } from '../../src/plan/task-document.js';
import { kindNames } from '../../src/tasks/registry.js';

export function config(overrides: Record<string, unknown> = {}): AgentConfig {
  return parseConfig(
    { sources: ['file'], imds: { enabled: false }, readiness: { units: [], kubeletHealthz: null, containerd: false }, ...overrides },
    '/test/config.yaml',
    kindNames(),
  );
}

/** Builds a plan from one YAML task list, as if it were a file in tasks.d. */
export function planFrom(yaml: string, cfg: AgentConfig = config(), label = 'file:/etc/postjoin/tasks.d/10-x.yaml'): Plan {
  return buildPlan(tasksFromText(yaml, 'yaml', label, 'file'), cfg.policy);
}

export const HEADER = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\n';
