// Arbitraries for task documents: valid tasks of every kind (as a user would write them), the document around
// them, the many ways to spell one in YAML or JSON, and mutations that break it in the ways editors and
// truncated uploads do.
import fc from 'fast-check';
import { stringify } from 'yaml';

/** Values the grammar and the schema treat specially: shell metacharacters, quotes, whitespace, unicode. */
const SPECIAL = [';', '|', '&', '$', '(', ')', '`', '*', '?', '[', ']', '{', '}', '<', '>', '#', '~', '!', '=', '%', ':', ',', '-', '\\', "'", '"', ' ', '\t', '\n', '\r', 'é', 'ß', '中', '😀', '\u00a0', '\u2028', '\ufeff', '\u0085'];

/** Text a user might put in a value: ordinary graphemes mixed with every special character above. */
export const text = (maxLength = 16): fc.Arbitrary<string> =>
  fc.string({ unit: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...'abcxyz019./_-ABC') }, { weight: 2, arbitrary: fc.constantFrom(...SPECIAL) }, { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) }), maxLength });

export const taskName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/);
const segment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,10}$/).filter((s) => s !== '.' && s !== '..');
export const absPath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);
const envName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/);

const GO_UNITS = ['h', 'm', 's', 'ms'] as const;
export const goDuration = fc.oneof(
  fc.constantFrom('10m', '30s', '250ms', '1h30m', '5m', '1s', '0'),
  fc.array(fc.tuple(fc.nat({ max: 59 }), fc.constantFrom(...GO_UNITS)), { minLength: 1, maxLength: 3 }).map((ps) => ps.map(([n, u]) => `${n}${u}`).join('')),
);
/** A task timeout: any duration but zero, which the schema refuses (it would stop the task before it starts). */
const taskTimeout = goDuration.filter((d) => /[1-9]/.test(d));
/** A value that can be handed to a process: Node refuses a NUL in argv or the environment, so the schema does. */
const processText = (maxLength?: number) => text(maxLength).filter((s) => !s.includes('\0'));

const imageRef = fc
  .tuple(
    fc.option(fc.oneof(fc.constantFrom('public.ecr.aws', '111122223333.dkr.ecr.us-west-2.amazonaws.com', 'registry.k8s.io', '127.0.0.1:5000', 'localhost'), fc.stringMatching(/^[a-z0-9]{1,8}\.[a-z]{2,4}$/)), { nil: undefined }),
    fc.array(fc.stringMatching(/^[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?$/), { minLength: 1, maxLength: 3 }),
    fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}$/), { nil: undefined }),
    fc.option(fc.stringMatching(/^[0-9a-f]{64}$/), { nil: undefined }),
  )
  .map(([host, path, tag, digest]) => `${host ? `${host}/` : ''}${path.join('/')}${tag ? `:${tag}` : ''}${digest ? `@sha256:${digest}` : ''}`)
  .filter((r) => !/^[a-f0-9]{64}$/.test(r));

const unitName = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9:_.-]{1,16}$/), fc.option(fc.stringMatching(/^[A-Za-z0-9:_.-]{1,6}$/), { nil: undefined }), fc.constantFrom('service', 'socket', 'target', 'timer', 'mount', 'path'))
  .map(([p, i, t]) => `${p}${i === undefined ? '' : `@${i}`}.${t}`);

/** Specs per kind, the way a user writes them (defaults sometimes spelled out, sometimes left off). */
export const kindSpecs = {
  exec: fc.record({ command: fc.oneof(absPath, text(12).filter((s) => s.length > 0 && !s.includes('\0'))), args: fc.array(processText(), { maxLength: 5 }) }, { requiredKeys: ['command'] }),
  script: text(60).filter((s) => s.length > 0),
  file: fc.record(
    {
      path: absPath,
      content: text(40),
      mode: fc.constantFrom('0644', '0600', '0755', '644', '0400'),
      owner: fc.constantFrom('root', '0'),
      group: fc.constantFrom('root', '0'),
    },
    { requiredKeys: ['path', 'content'] },
  ),
  pull: fc.record({ images: fc.array(imageRef, { minLength: 1, maxLength: 3 }), concurrency: fc.integer({ min: 1, max: 32 }), pin: fc.boolean() }, { requiredKeys: ['images'] }),
  unit: fc.record({ name: unitName, action: fc.constantFrom('start', 'restart', 'stop', 'enable-now') }),
  wait: fc.oneof(
    fc.record({ url: fc.tuple(fc.integer({ min: 1, max: 65535 }), fc.stringMatching(/^[a-z0-9/]{0,12}$/)).map(([p, s]) => `http://127.0.0.1:${p}/${s}`) }),
    fc.record({ file: absPath }),
    fc.record({ unit: unitName }),
    fc.record({ file: absPath, interval: fc.constantFrom('10ms', '1s', '500ms') }),
  ),
} as const;

export type KindName = keyof typeof kindSpecs;
export const KINDS = Object.keys(kindSpecs) as KindName[];

export interface TaskObject {
  name: string;
  [key: string]: unknown;
}

const commonFields = fc.record(
  {
    timeout: taskTimeout,
    retries: fc.integer({ min: 0, max: 100 }),
    retryDelay: goDuration,
    onFailure: fc.constantFrom('abort', 'continue'),
    once: fc.boolean(),
    env: fc.dictionary(envName, processText(), { maxKeys: 3 }),
    cwd: absPath,
  },
  { requiredKeys: [] },
);

/** One valid simple task of the given kinds (the name is set by the document). */
export type KindSpecs = { [K in KindName]?: fc.Arbitrary<unknown> };

export const simpleTask = (kinds: readonly KindName[] = KINDS, common: fc.Arbitrary<Record<string, unknown>> = commonFields, specs: KindSpecs = kindSpecs) =>
  fc.tuple(fc.constantFrom(...kinds), common).chain(([kind, c]) => (specs[kind] ?? kindSpecs[kind]).map((spec): Record<string, unknown> => ({ ...c, [kind]: spec })));

/** A task list with unique names; groups (one level deep) only when `groups`. */
export function taskList(opts: { kinds?: readonly KindName[]; groups?: boolean; common?: fc.Arbitrary<Record<string, unknown>>; specs?: KindSpecs; maxTasks?: number } = {}): fc.Arbitrary<TaskObject[]> {
  const one = simpleTask(opts.kinds, opts.common, opts.specs);
  const step = opts.groups
    ? fc.oneof({ weight: 5, arbitrary: one.map((t) => [t]) }, { weight: 1, arbitrary: fc.array(one, { minLength: 1, maxLength: 3 }).map((m) => [{ parallel: { tasks: m } } as Record<string, unknown>]) })
    : one.map((t) => [t]);
  return fc
    .tuple(fc.array(step, { minLength: 1, maxLength: opts.maxTasks ?? 4 }), fc.uniqueArray(taskName, { minLength: 16, maxLength: 16, comparator: (a, b) => a === b }))
    .map(([steps, names]) => {
      let n = 0;
      return steps.map(([s]) => {
        const task = s as Record<string, unknown>;
        const g = task.parallel as { tasks: Record<string, unknown>[] } | undefined;
        if (g) return { name: names[n++]!, parallel: { tasks: g.tasks.map((m) => ({ name: names[n++]!, ...m })) } };
        return { name: names[n++]!, ...task };
      });
    });
}

export const taskDocument = (tasks: TaskObject[]) => ({ apiVersion: 'postjoin/v1alpha1', kind: 'TaskList', tasks });

/** The ways a user writes the same document: YAML in several styles, or JSON; with decorations YAML ignores. */
export interface Spelling {
  format: 'yaml' | 'json';
  yamlOptions: { defaultStringType: 'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE' | 'BLOCK_LITERAL' | 'BLOCK_FOLDED'; collectionStyle: 'any' | 'block' | 'flow'; indent: number; lineWidth: number };
  crlf: boolean;
  bom: boolean;
  leadingComment: boolean;
  trailingDocEnd: boolean;
}

export const spelling: fc.Arbitrary<Spelling> = fc.record({
  format: fc.constantFrom('yaml', 'yaml', 'json'),
  yamlOptions: fc.record({
    defaultStringType: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'),
    collectionStyle: fc.constantFrom('any', 'block', 'flow'),
    indent: fc.constantFrom(2, 4),
    lineWidth: fc.constantFrom(0, 20, 80),
  }),
  crlf: fc.boolean(),
  bom: fc.boolean(),
  leadingComment: fc.boolean(),
  trailingDocEnd: fc.boolean(),
});

export function spell(doc: unknown, s: Spelling): string {
  if (s.format === 'json') return `${s.bom ? '\ufeff' : ''}${JSON.stringify(doc, null, s.yamlOptions.indent)}\n`;
  let out = stringify(doc, { ...s.yamlOptions, minContentWidth: 0 });
  if (s.leadingComment) out = `# written by a property test: ; | & $() "quotes" 'too'\n${out}`;
  if (s.trailingDocEnd) out += '...\n';
  if (s.crlf) out = out.replace(/\r?\n/g, '\r\n');
  return `${s.bom ? '\ufeff' : ''}${out}`;
}

/** Edits that break a document: cut, duplicate, insert YAML punctuation, replace a value by anything. */
const TOKENS = [':', '- ', '-', '&a ', '*a', '*b', '!!str ', '!!binary ', '!foo ', '{', '}', '[', ']', '"', "'", '|', '>', '#', '%YAML 1.1\n', '---\n', '...\n', '\t', '? ', '<<: ', ',', '\\', '\n', '\r', '\0', '\ufeff', 'apiVersion', 'tasks', 'name', 'exec', 'parallel', 'timeout: 1e9h', 'retries: -1', ': null', '~'];

export type Mutation = { at: number; kind: 'cut'; length: number } | { at: number; kind: 'insert'; what: string } | { at: number; kind: 'dup'; length: number };

export const mutations = fc.array(
  fc.oneof(
    fc.record({ at: fc.nat(), kind: fc.constant('cut' as const), length: fc.nat({ max: 40 }) }),
    fc.record({ at: fc.nat(), kind: fc.constant('insert' as const), what: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })) }),
    fc.record({ at: fc.nat(), kind: fc.constant('dup' as const), length: fc.nat({ max: 80 }) }),
  ),
  { minLength: 1, maxLength: 4 },
);

export function mutate(textIn: string, ms: readonly Mutation[]): string {
  let s = textIn;
  for (const m of ms) {
    const at = s.length === 0 ? 0 : m.at % (s.length + 1);
    if (m.kind === 'cut') s = s.slice(0, at) + s.slice(at + m.length);
    else if (m.kind === 'insert') s = s.slice(0, at) + m.what + s.slice(at);
    else s = s.slice(0, at) + s.slice(at, at + m.length) + s.slice(at);
  }
  return s;
}

/** A JSON-ish value to put where a task field was: wrong types, huge numbers, deep nesting. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, 0, -1, 1e400, 0.5, '', '0644', 644, [], {}, '1e9h', 'x'.repeat(300), { __proto__: 1 }, ['a', 1]),
  fc.integer({ min: 1, max: 200 }).map((d) => JSON.parse('['.repeat(d) + ']'.repeat(d)) as unknown),
);

/** Replaces one field of one task (or adds an unknown one) in the document object. */
export const fieldEdit = fc.record({ task: fc.nat(), field: fc.oneof(fc.constantFrom('name', 'timeout', 'retries', 'retryDelay', 'onFailure', 'once', 'env', 'cwd', 'exec', 'script', 'file', 'pull', 'unit', 'wait', 'parallel', 'group', 'constructor', 'toString'), fc.string({ maxLength: 6 })), value: wrongValue });

export function editField(tasks: TaskObject[], e: { task: number; field: string; value: unknown }): TaskObject[] {
  const copy = structuredClone(tasks);
  const target = copy[e.task % copy.length];
  if (target) Object.defineProperty(target, e.field, { value: e.value, enumerable: true, writable: true, configurable: true });
  return copy;
}
