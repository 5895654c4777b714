import { didYouMean } from '../base/did-you-mean.js';
import type { Problem } from '../base/errors.js';
import { oneLine, quoted } from '../base/shown-text.js';
import { formatPath } from '../base/yaml-documents.js';
import type { TagForm } from '../kinds/kind.js';
import { kindNamed, taskKinds } from '../kinds/registry.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { TASK_NAME } from '../plan/task-schema.js';
import { byteOrder } from './file-source.js';
import { joinWords, splitWords } from './shell-words.js';
import { findUnusualCharacter, unusualCharacterProblem } from './unusual-characters.js';

/** Design §7: `postjoin:<task name>` = `<kind> <args…>`. */
export const TAG_PREFIX = 'postjoin:';
export const ENABLED_KEY = 'postjoin:enabled';
/** What IMDS allows in a tag key when tags are exposed in instance metadata (no `/`, no spaces). */
export const TAG_KEY_CHARS = /^[A-Za-z0-9+=._:@-]+$/;
/** EC2 refuses a longer key at launch ("Tag key exceeds the maximum length of 128 characters"). */
export const TAG_KEY_MAX = 128;
export const TAG_VALUE_MAX = 256;
/** EC2's limit per resource; the instance's own tags count towards it too. */
export const TAGS_PER_RESOURCE = 50;

/**
 * The kinds a tag value can hold: those with a tag form (each declared in its kind's own file), first the ones
 * the default policy lets tags use, then the ones a node must allow explicitly.
 */
export function tagKinds(): string[] {
  const forms = taskKinds.filter((k) => k.tagForm);
  return [...forms.filter((k) => k.tagsByDefault), ...forms.filter((k) => !k.tagsByDefault)].map((k) => k.kind);
}

function tagFormOf(kind: string): TagForm | undefined {
  return kindNamed(kind)?.tagForm;
}

export type TagsOutcome = { enabled: false } | { enabled: true; tasks: SourcedTask[]; problems: Problem[] };

/** Where a tag was read: its origin (`tag:postjoin:10-x` on the node) and, in a file, its line. */
export type TagWhere = (key: string) => { origin: string; line?: number };

/**
 * Turns an instance's tags into tasks, one per `postjoin:` key, in the byte-wise order of the keys. Other
 * tags are not ours. Every bad key and value is reported, each naming its tag key.
 */
export function tasksFromTags(tags: ReadonlyMap<string, string>, where: TagWhere = (key) => ({ origin: `tag:${key}` })): TagsOutcome {
  const enabled = tags.get(ENABLED_KEY);
  if (enabled !== undefined && enabled.trim().toLowerCase() === 'false') return { enabled: false };
  const keys = [...tags.keys()].filter((k) => k.startsWith(TAG_PREFIX) && k !== ENABLED_KEY).sort(byteOrder);
  const tasks: SourcedTask[] = [];
  const problems: Problem[] = [];
  for (const key of keys) {
    const { origin, line } = where(key);
    const at = line === undefined ? {} : { line };
    const name = key.slice(TAG_PREFIX.length);
    if (!TASK_NAME.test(name)) {
      // Only a key that is a task name becomes an origin as it is; this one is shown escaped, in the source too.
      problems.push({
        source: oneLine(origin, 160),
        ...at,
        message: `tag key ${quoted(key, 140)}: ${quoted(name)} is not a task name (1-63 letters, digits, ".", "_" and "-", starting with a letter or digit)`,
      });
      continue;
    }
    const parsed = taskFromTagValue(name, tags.get(key) ?? '');
    if (typeof parsed === 'string') {
      problems.push({ source: origin, ...at, message: parsed });
      continue;
    }
    tasks.push({
      source: 'tags',
      origin,
      raw: parsed,
      locate: (p) => ({ source: origin, at: formatPath(p) || undefined, ...at }),
    });
  }
  return { enabled: true, tasks, problems };
}

/** A tag value as a raw task object, in the shape the kinds' schemas validate; a string says what is wrong. */
export function taskFromTagValue(name: string, value: string): Record<string, unknown> | string {
  // Before splitting: a no-break space would otherwise be part of a word, and the split would differ in silence.
  const unusual = unusualCharacterProblem(value);
  if (unusual) return unusual;
  const split = splitWords(value);
  if (!split.ok) return split.message;
  const [kind, ...args] = split.words;
  if (kind === undefined) return `the value is empty; write "<kind> <args…>", where kind is one of ${tagKinds().join(', ')}`;
  const form = tagFormOf(kind);
  if (!form) return `unknown kind ${quoted(kind)}; a tag value starts with one of ${tagKinds().join(', ')}${didYouMean(kind, tagKinds())}`;
  const parsed = form.parse(args);
  return 'reason' in parsed ? parsed.reason : { name, [kind]: parsed.spec };
}

/**
 * The reverse, for the `tags` verb: a task's kind and spec (as the user wrote them) as a tag value, or the
 * reason it cannot be one. `dropped` lists spec keys the grammar has no words for; the caller decides, by
 * comparing the parsed-back task, whether dropping them changed anything (an explicit default does not).
 */
export function tagValueFromSpec(kind: string, spec: unknown): { value: string; dropped: string[] } | { reason: string } {
  const out = tagValue(kind, spec);
  const u = 'value' in out ? findUnusualCharacter(out.value) : undefined;
  if (u) return { reason: `its tag value would hold ${u.description.replace(/,.*/, '')} at character ${u.position}, which a tag value may not hold` };
  return out;
}

function tagValue(kind: string, spec: unknown): { value: string; dropped: string[] } | { reason: string } {
  const form = tagFormOf(kind);
  if (!form) return { reason: `kind "${kind}" has no tag form; tags can hold ${tagKinds().join(', ')}` };
  const written = form.write(spec);
  if ('reason' in written) return written;
  const keys = typeof spec === 'object' && spec !== null ? Object.keys(spec) : [];
  return { value: joinWords([kind, ...written.words]), dropped: keys.filter((k) => !written.keys.includes(k)).map((k) => `${kind}.${k}`) };
}
