import { z } from 'zod';
import { taskContentHash } from '../base/content-hash.js';
import type { Problem } from '../base/errors.js';
import { absolutePath, duration } from '../base/fields.js';
import { nearestWords } from '../base/did-you-mean.js';
import { quoted } from '../base/shown-text.js';
import { zodProblems } from '../base/zod-problems.js';
import { kindNamed, kindNames } from '../kinds/registry.js';
import type { SourcedTask } from './sourced-task.js';
import type { ParallelGroup, PlanStep, SimpleTask } from './task.js';

export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const taskNameSchema = z
  .string({ error: 'expected a task name string' })
  .regex(TASK_NAME, 'a task name is 1-63 characters of letters, digits, ".", "_" and "-", starting with a letter or digit');

export const commonFields = {
  name: taskNameSchema,
  timeout: duration('kill the task\'s process tree after this long')
    .refine((ms) => ms > 0, 'a timeout of 0 would stop the task before it starts; give a duration such as "30s"')
    .prefault('10m'),
  retries: z.int({ error: 'expected a whole number of extra attempts' }).min(0).max(100).default(0),
  retryDelay: duration('least wait before each retry; later retries add a random extra up to retryDelay doubled per retry, the doubling capped at 30s').prefault('1s'),
  onFailure: z.enum(['abort', 'continue']).default('abort'),
  once: z.boolean().default(true),
  env: z
    .record(
      z.string().regex(ENV_NAME, 'environment variable names are letters, digits and "_"'),
      // A NUL cannot be passed to a process; Node's refusal would quote the (secret) value into the journal.
      z.string({ error: 'expected env values as strings' }).refine((v) => !v.includes('\0'), 'environment variable values must not contain NUL'),
    )
    .optional(),
  cwd: absolutePath('cwd').optional(),
};
const COMMON_KEYS = Object.keys(commonFields);

/** A group holds tasks; the timeouts, retries and once-state belong to its members. */
const GROUP_KEYS = ['name', 'onFailure', 'parallel'];
const groupSpecSchema = z.strictObject({
  concurrency: z.int().min(1).max(64).default(4),
  tasks: z.array(z.unknown(), { error: 'expected a list of tasks' }).min(1, 'a parallel group needs at least one task'),
});

/**
 * Every key a task may hold: the common fields, and one key per kind (its spec is checked by the kind's own
 * schema). Checked as one object, so that a misspelled key is named with the key it most likely meant.
 */
const KIND_KEYS = [...kindNames(), 'parallel'];
const taskKeysSchema = z.strictObject({ ...commonFields, ...Object.fromEntries(KIND_KEYS.map((k) => [k, z.unknown().optional()])) });
const TASK_KEYS = [...COMMON_KEYS, ...KIND_KEYS];
const UNKNOWN_AT_TOP = (key: string) =>
  `unknown kind or field ${quoted(key)}; kinds are ${KIND_KEYS.join(', ')}; fields are ${COMMON_KEYS.join(', ')}`;

/**
 * Validates one task (or group) as written. Problems go to `problems`; the result is undefined if any. What a
 * valid task's kind warns about goes to `warnings`, located as a problem is.
 */
export function validateStep(st: SourcedTask, problems: Problem[], inGroup = false, warnings: Problem[] = []): PlanStep | undefined {
  const before = problems.length;
  const step = checkStep(st, problems, inGroup, warnings);
  // In the order of the document, whichever check found them (the task's keys, then its kind's spec).
  problems.push(...problems.splice(before).sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  return step;
}

function checkStep(st: SourcedTask, problems: Problem[], inGroup: boolean, warnings: Problem[]): PlanStep | undefined {
  const raw = st.raw;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push({ ...st.locate([]), message: 'expected a task (a mapping with a name and one kind)' });
    return undefined;
  }
  const fields = raw as Record<string, unknown>;
  const kinds = Object.keys(fields).filter((k) => KIND_KEYS.includes(k));
  const before = problems.length;
  // A group's own fields are only name and onFailure: the others are said not to apply, not checked as values.
  const checked = kinds.length === 1 && kinds[0] === 'parallel' ? omit(fields, COMMON_KEYS.filter((k) => !GROUP_KEYS.includes(k))) : fields;
  const common = taskKeysSchema.safeParse(checked);
  if (!common.success) {
    problems.push(
      ...zodProblems(common.error, {
        schema: taskKeysSchema,
        input: checked,
        locate: st.locate,
        unknownAtTop: UNKNOWN_AT_TOP,
        guessPrefix: (k) => (KIND_KEYS.includes(k) ? 'the kind ' : ''),
      }),
    );
  }
  // A stray key already said what the kinds are (nothing was near it), or is a kind misspelled: no "has no kind".
  const kindSaid = Object.keys(fields)
    .filter((k) => !Object.hasOwn(taskKeysSchema.shape, k))
    .some((k) => nearestWords(k, TASK_KEYS).every((guess) => KIND_KEYS.includes(guess)));
  const kind = findKind(st, kinds, problems, inGroup, kindSaid);
  if (!kind) return undefined;
  if (kind === 'parallel') return validateGroup(st, fields, { problems, warnings }, before, common.data);

  const spec = kindNamed(kind)!.schema.safeParse(fields[kind]);
  if (!spec.success) problems.push(...zodProblems(spec.error, { schema: kindNamed(kind)!.schema, input: fields[kind], locate: st.locate, prefix: [kind] }));
  if (!common.success || !spec.success || problems.length > before) return undefined;
  const c = common.data;
  const task: SimpleTask = {
    name: c.name,
    kind,
    origin: st.origin,
    source: st.source,
    spec: spec.data,
    timeoutMs: c.timeout,
    retries: c.retries,
    retryDelayMs: c.retryDelay,
    onFailure: c.onFailure,
    once: c.once,
    ...(c.env ? { env: c.env } : {}),
    ...(c.cwd ? { cwd: c.cwd } : {}),
    hash: '',
  };
  task.hash = taskContentHash(task);
  for (const w of kindNamed(kind)!.warnings?.(spec.data) ?? []) warnings.push({ ...st.locate([kind, ...w.path]), message: `task "${task.name}": ${w.message}` });
  return task;
}

/** The one kind of a task; none, or two, is a problem. An unknown key already reported may be the kind, misspelled. */
function findKind(st: SourcedTask, kinds: string[], problems: Problem[], inGroup: boolean, kindSaid: boolean): string | undefined {
  if (kinds.length > 1) {
    problems.push({ ...st.locate([]), message: `has ${kinds.length} kinds (${kinds.join(', ')}); a task has exactly one` });
    return undefined;
  }
  if (kinds.length === 0) {
    if (!kindSaid) problems.push({ ...st.locate([]), message: `has no kind; a task needs exactly one of ${KIND_KEYS.join(', ')}` });
    return undefined;
  }
  if (kinds[0] === 'parallel' && inGroup) {
    problems.push({ ...st.locate(['parallel']), message: 'a parallel group cannot hold another group; groups are one level deep' });
    return undefined;
  }
  return kinds[0];
}

function validateGroup(
  st: SourcedTask,
  fields: Record<string, unknown>,
  { problems, warnings }: { problems: Problem[]; warnings: Problem[] },
  before: number,
  head: { name: string; onFailure: ParallelGroup['onFailure'] } | undefined,
): ParallelGroup | undefined {
  for (const key of Object.keys(fields)) {
    if (COMMON_KEYS.includes(key) && !GROUP_KEYS.includes(key)) {
      problems.push({ ...st.locate([key]), message: `${quoted(key)} does not apply to a parallel group; set it on each member` });
    }
  }
  const spec = groupSpecSchema.safeParse(fields.parallel);
  if (!spec.success) {
    problems.push(...zodProblems(spec.error, { schema: groupSpecSchema, input: fields.parallel, locate: st.locate, prefix: ['parallel'] }));
    return undefined;
  }
  const members = spec.data.tasks.map((raw, i) =>
    validateStep(
      { source: st.source, origin: `${st.origin}.parallel.tasks[${i}]`, raw, locate: (p) => st.locate(['parallel', 'tasks', i, ...p]) },
      problems,
      true,
      warnings,
    ),
  ) as (SimpleTask | undefined)[];
  if (!head || problems.length > before) return undefined;
  const name = head.name;
  return {
    name,
    kind: 'parallel',
    origin: st.origin,
    source: st.source,
    onFailure: head.onFailure,
    concurrency: spec.data.concurrency,
    tasks: (members as SimpleTask[]).map((m) => ({ ...m, group: name })),
  };
}

function omit(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}
