import { oneLine } from './shown-text.js';

/**
 * The exit codes are a contract (design §3): AMI pipelines and SREs key on them.
 * Every error that ends a run carries its code, so the CLI never guesses.
 */
export const ExitCode = {
  ok: 0,
  taskFailed: 1,
  invalid: 2,
  notReady: 3,
  sourceError: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class PostjoinError extends Error {
  abstract readonly exitCode: ExitCode;
}

/** One problem in some input, located as precisely as we can: the source and a path in it. */
export interface Problem {
  /** Where the input came from: `file:/etc/postjoin/tasks.d/10-x.yaml`, `config /etc/postjoin/config.yaml`, `tag:postjoin:10-x`. */
  source: string;
  /** A path inside it, such as `tasks[2].exec.args`; empty for the whole input. */
  at?: string;
  /** 1-based line in the source text, when the input was text. */
  line?: number;
  message: string;
}

/**
 * One problem as one line, as `validate` prints it and the journal keeps it. Every place that quotes input
 * escapes it already (shown-text.ts); this is the net under them, for a source or a path named by a file
 * name or a flag, so one missed place can never split a line.
 */
export function formatProblem(p: Problem): string {
  const where = [p.at, p.line === undefined ? undefined : `line ${p.line}`].filter(Boolean).join(', ');
  return oneLine(where ? `${p.source}: ${where}: ${p.message}` : `${p.source}: ${p.message}`);
}

/** Invalid input: usage, config, a task document, or a policy denial (exit 2). Holds every problem found, not just the first. */
export class InvalidInput extends PostjoinError {
  readonly exitCode = ExitCode.invalid;
  readonly problems: Problem[];
  constructor(problems: Problem[] | Problem) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.map(formatProblem).join('\n'));
    this.name = 'InvalidInput';
    this.problems = list;
  }
}

/** A required source could not be read: IMDS after retries, or a tasks.d entry that is not a readable file (exit 4). */
export class SourceUnreadable extends PostjoinError {
  readonly exitCode = ExitCode.sourceError;
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
    this.name = 'SourceUnreadable';
  }
}

/** Readiness was not reached before the deadline (exit 3). */
export class NotReady extends PostjoinError {
  readonly exitCode = ExitCode.notReady;
  constructor(message: string) {
    super(message);
    this.name = 'NotReady';
  }
}

/** Collects problems so that validation reports all of them, then throws once. */
export class ProblemList {
  readonly items: Problem[] = [];
  add(p: Problem): void {
    this.items.push(p);
  }
  addAll(ps: Iterable<Problem>): void {
    for (const p of ps) this.items.push(p);
  }
  get empty(): boolean {
    return this.items.length === 0;
  }
  throwIfAny(): void {
    if (this.items.length > 0) throw new InvalidInput(this.items);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
