import type { z } from 'zod';
import { didYouMean, nearestWords } from './did-you-mean.js';
import type { Problem } from './errors.js';
import { isRecord } from './is-record.js';
import { oneLine, quoted } from './shown-text.js';
import { formatPath, type PathSegment } from './yaml-documents.js';

/** Where a validated value came from: turns a path inside it into a located problem. */
export type Locate = (path: readonly PathSegment[]) => Pick<Problem, 'source' | 'at' | 'line'>;

/** What was validated, so that a problem can name what was meant: the schema knows the keys, the input the typo. */
export interface Validated {
  schema: z.ZodType;
  input: unknown;
  locate: Locate;
  /** Where `input` sits in the document (`['exec']` for an exec spec). */
  prefix?: readonly PathSegment[];
  /** The message for an unknown key at the top of `input` that is near no known key (a task lists its kinds and fields). */
  unknownAtTop?: (key: string) => string;
  /** Said before a known key at the top when it is the guess: `the kind ` (did you mean the kind "exec"?). */
  guessPrefix?: (key: string) => string;
}

/**
 * Converts zod issues into our problem form: one problem per mistake, each at its own key's line. An unknown key
 * names the known key nearest to it, and when that key is required and missing, the two are one mistake (a
 * misspelled `images:` is not also "images is missing"). A missing required key says so, at its parent's line.
 */
export function zodProblems(error: z.ZodError, from: Validated): Problem[] {
  const prefix = from.prefix ?? [];
  const issues = error.issues as unknown as ZodIssueLike[];
  const missing = new Set(issues.filter((i) => isMissingKey(from.input, i.path)).map((i) => formatPath(i.path)));
  // First what each unknown key most likely meant, so that a required key it explains is not reported again.
  const unknown = new Map<ZodIssueLike, Problem[]>();
  const explained = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys' || !issue.keys) continue;
    const known = keysAt(from.schema, issue.path);
    const top = issue.path.length === 0;
    unknown.set(
      issue,
      issue.keys.map((key) => {
        const near = nearestWords(key, known);
        // Only a single guess that is required and missing is the same mistake; otherwise each is said.
        const required = near.length === 1 && missing.has(formatPath([...issue.path, near[0]!])) ? near[0] : undefined;
        if (required) explained.add(formatPath([...issue.path, required]));
        const guess = didYouMean(key, known, top && near.length === 1 && from.guessPrefix ? from.guessPrefix(near[0]!) : '');
        const why = required ? ` (${JSON.stringify(required)} is required)` : '';
        const located = from.locate([...prefix, ...issue.path, key]);
        if (!guess && top && from.unknownAtTop) return { ...located, message: from.unknownAtTop(key) };
        return { ...located, message: `unknown key ${quoted(key)}${guess}${why}` };
      }),
    );
  }
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const located = () => from.locate([...prefix, ...path]);
    if (issue.code === 'unrecognized_keys') out.push(...(unknown.get(issue) ?? []));
    else if (explained.has(formatPath(path))) continue;
    else if (missing.has(formatPath(path))) {
      const detail = cleanMessage(issue, from.input).replace(/, received undefined$/, '');
      const key = JSON.stringify(String(path[path.length - 1]));
      out.push({ ...located(), message: `required key ${key} is missing${detail && detail !== 'Invalid input' ? ` (${detail})` : ''}` });
    } else out.push({ ...located(), message: cleanMessage(issue, from.input) });
  }
  return out;
}

interface ZodIssueLike {
  code: string;
  message: string;
  path: PathSegment[];
  keys?: string[];
  values?: unknown[];
}

function cleanMessage(issue: ZodIssueLike, input: unknown): string {
  // zod's own words for a wrong enum value; a schema's own message (a literal's, say) is kept as written.
  if (issue.code === 'invalid_value' && issue.values && /^Invalid (option|input)/.test(issue.message)) {
    const given = valueAt(input, issue.path);
    const strings = issue.values.filter((v): v is string => typeof v === 'string');
    const guess = typeof given === 'string' ? didYouMean(given, strings) : '';
    return `expected one of ${issue.values.map((v) => quoted(v)).join(', ')}${guess}`;
  }
  return oneLine(issue.message.replace(/^Invalid input: /, ''));
}

/** True when the issue is about a key its object does not have at all. */
function isMissingKey(input: unknown, path: readonly PathSegment[]): boolean {
  if (path.length === 0) return false;
  const parent = valueAt(input, path.slice(0, -1));
  return isRecord(parent) && !Object.hasOwn(parent, path[path.length - 1]!);
}

function valueAt(input: unknown, path: readonly PathSegment[]): unknown {
  let v = input;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isRecord(v) && typeof seg === 'string' && Object.hasOwn(v, seg)) v = v[seg];
    else return undefined;
  }
  return v;
}

/** The keys an object schema at `path` knows, looking through optional, default, transform and the like. */
export function keysAt(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let s: ZodDefHolder | undefined = unwrap(schema as unknown as ZodDefHolder);
  for (const seg of path) {
    const def: ZodDefHolder['_zod']['def'] | undefined = s?._zod.def;
    if (!def) return [];
    if (def.type === 'object') s = def.shape?.[String(seg)];
    else if (def.type === 'array') s = def.element;
    else if (def.type === 'record') s = def.valueType;
    else return [];
    s = s && unwrap(s);
  }
  const shape = s?._zod.def.type === 'object' ? s._zod.def.shape : undefined;
  return shape ? Object.keys(shape) : [];
}

/** The parts of zod 4's schema definitions (`_zod.def`, its documented internals) that lead to an object's keys. */
interface ZodDefHolder {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, ZodDefHolder>;
      element?: ZodDefHolder;
      valueType?: ZodDefHolder;
      innerType?: ZodDefHolder;
      in?: ZodDefHolder;
    };
  };
}

function unwrap(s: ZodDefHolder): ZodDefHolder {
  let cur = s;
  for (let i = 0; i < 16; i++) {
    const def = cur._zod.def;
    const next = def.type === 'pipe' ? def.in : ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type) ? def.innerType : undefined;
    if (!next) return cur;
    cur = next;
  }
  return cur;
}

export { formatPath };
