import type { Logger } from 'pino';
import type { z } from 'zod';
import type { AgentConfig, Policy, SourceName } from '../config/agent-config.js';
import type { Host } from '../host/host.js';
import type { TaskOutput } from '../report/task-output.js';

/**
 * The one interface every task kind implements, in a file of its own (cloud-init's cc_* modules are the
 * model): its schema beside its code, and a single line in `registry.ts`.
 */
export interface TaskKind<Spec = unknown> {
  readonly kind: string;
  /** One line for `--help` and the README. */
  readonly summary: string;
  /** Validates the spec found under the kind's key, and applies its defaults. */
  readonly schema: z.ZodType<Spec>;
  /** What `plan` prints; secrets are replaced unless `showSecrets`. Defaults to the spec itself. */
  redact?(spec: Spec): unknown;
  /**
   * Checks beyond the per-source allow-list (registry and unit globs). Each string is one denial. `source` is
   * where the task came from: some rules are stricter for instance tags.
   */
  checkPolicy?(spec: Spec, policy: Policy, source: SourceName): string[];
  run(spec: Spec, ctx: TaskContext): Promise<TaskResult | void>;
}

export interface TaskContext {
  name: string;
  env: Readonly<Record<string, string>>;
  cwd?: string;
  /** Fires on the task's timeout or when the agent is stopped; the kind must stop promptly. */
  signal: AbortSignal;
  log: Logger;
  /** Forwards the task's own output to the journal, line by line, within the per-task budget. */
  output: TaskOutput;
  config: AgentConfig;
  host: Host;
}

export interface TaskResult {
  exitCode?: number;
}

/** A task's own failure: the message is what the SRE reads in `journalctl -p err`. */
export class TaskFailed extends Error {
  constructor(
    message: string,
    readonly exitCode?: number,
  ) {
    super(message);
    this.name = 'TaskFailed';
  }
}

/** Lets a kind declare its spec type once and still be stored in the registry's list. */
export function defineKind<Spec>(kind: TaskKind<Spec>): TaskKind<Spec> {
  return kind;
}
