import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Host } from '../host/host.js';

/**
 * The one interface every task kind implements, in a file of its own (cloud-init's cc_* modules are the
 * model): its schema, its policy and tag form beside its code, and a single line in `registry.ts`. Validating
 * a plan needs only the schema; the run code reaches the machine through `ctx.host` alone.
 */
export interface TaskKind<Spec = unknown> {
  readonly kind: string;
  /** One line for `--help` and the README. */
  readonly summary: string;
  /** Validates the spec found under the kind's key, and applies its defaults. */
  readonly schema: z.ZodType<Spec>;
  /**
   * Whether the default policy lets instance tags ask for this kind (`policy.tags.allow`). Whoever can tag an
   * instance is trusted least (design §4): only kinds that run no code of the tagger's own say true.
   */
  readonly tagsByDefault: boolean;
  /** How a tag value writes this kind (design §7); a kind without one cannot come from tags. */
  readonly tagForm?: TagForm;
  /** What `plan` prints; secrets are replaced unless `showSecrets`. Defaults to the spec itself. */
  redact?(spec: Spec): unknown;
  /**
   * Checks beyond the per-source allow-list (registry and unit globs). Each string is one denial. `source` is
   * where the task came from: some rules are stricter for instance tags.
   */
  checkPolicy?(spec: Spec, rules: PolicyRules, source: string): string[];
  /**
   * What is valid but most likely not what the author meant (`$VAR` in an exec argument): warnings at plan
   * time, by `validate`, `plan`, `tags` and in the journal of `run`. They never refuse a task. `path` is inside
   * the spec.
   */
  warnings?(spec: Spec): KindWarning[];
  run(spec: Spec, ctx: TaskContext): Promise<TaskResult | void>;
}

export interface KindWarning {
  path: (string | number)[];
  message: string;
}

/** The policy's rules that kinds apply to their specs (design §4); an empty list allows everything. */
export interface PolicyRules {
  registries: string[];
  units: string[];
  /** Not in the design's example: globs a `file` task's path must match, after symlinks in it are resolved. */
  paths: string[];
}

/**
 * A kind's tag form: `postjoin:<name>` = `<kind> <words…>` (design §7). The words are never given to a shell;
 * the tag grammar splits and joins them, the kind only says what they mean.
 */
export interface TagForm {
  /** The words after the kind, as the spec its schema then checks, or what is wrong with them. */
  parse(words: string[]): { spec: unknown } | { reason: string };
  /**
   * The reverse, for the `tags` verb: the spec as the user wrote it, as words after the kind, with the spec's
   * keys those words carry (any other key is dropped); or why it cannot be a tag value.
   */
  write(spec: unknown): { words: string[]; keys: string[] } | { reason: string };
  /**
   * What the `tags` verb tells whoever sets such a tag about the node's policy beyond `policy.tags.allow`, after
   * the tag key (`is a unit task: …`); undefined when there is nothing to say.
   */
  note?(spec: unknown): string | undefined;
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
  /** The policy's rules, which a kind may need to apply again at run time (a file task's real path). */
  policy: PolicyRules;
  /** The config's containerd: the socket and namespace a pull goes to. */
  containerd: { socket: string; namespace: string };
  host: Host;
}

/**
 * A task's output on its way to the journal, line by line, up to a budget per task (design §8). Past it, one
 * notice is written; the rest is still read so the task never blocks on a full pipe.
 */
export interface TaskOutput {
  line(stream: 'stdout' | 'stderr', line: string, truncated: boolean): void;
  /** True once the budget is spent: from then on a runner may count raw bytes instead of splitting lines. */
  readonly full: boolean;
  /** Counts output that was never split into lines because the budget was already spent. */
  dropped(bytes: number): void;
  finish(): void;
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

/** A tag form's view of a spec written by hand: its keys, whatever it is. */
export function specFields(spec: unknown): Record<string, unknown> {
  return typeof spec === 'object' && spec !== null ? (spec as Record<string, unknown>) : {};
}

/** A spec value as one word of a tag value. */
export function asWord(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}
