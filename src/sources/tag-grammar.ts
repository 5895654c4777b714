import type { Problem } from '../base/errors.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { TASK_NAME } from '../plan/task-schema.js';
import { formatPath } from '../base/yaml-documents.js';
import { byteOrder } from './file-source.js';
import { joinWords, splitWords } from './shell-words.js';
import { findUnusualCharacter, unusualCharacterProblem } from './unusual-characters.js';

/** Design §7: `postjoin:<task name>` = `<kind> <args…>`. */
export const TAG_PREFIX = 'postjoin:';
export const ENABLED_KEY = 'postjoin:enabled';
/** What IMDS allows in a tag key when tags are exposed in instance metadata (no `/`, no spaces). */
export const TAG_KEY_CHARS = /^[A-Za-z0-9+=._:@-]+$/;
export const TAG_KEY_MAX = 127;
export const TAG_VALUE_MAX = 256;
/** EC2's limit per resource; the instance's own tags count towards it too. */
export const TAGS_PER_RESOURCE = 50;

export const TAG_KINDS = ['pull', 'unit', 'wait', 'exec', 'script'] as const;
const WAIT_FORMS = ['url', 'file', 'unit'] as const;

export type TagsOutcome = { enabled: false } | { enabled: true; tasks: SourcedTask[]; problems: Problem[] };

/**
 * Turns an instance's tags into tasks, one per `postjoin:` key, in the byte-wise order of the keys. Other
 * tags are not ours. Every bad key and value is reported, each naming its tag key.
 */
export function tasksFromTags(tags: ReadonlyMap<string, string>): TagsOutcome {
  const enabled = tags.get(ENABLED_KEY);
  if (enabled !== undefined && enabled.trim().toLowerCase() === 'false') return { enabled: false };
  const keys = [...tags.keys()].filter((k) => k.startsWith(TAG_PREFIX) && k !== ENABLED_KEY).sort(byteOrder);
  const tasks: SourcedTask[] = [];
  const problems: Problem[] = [];
  for (const key of keys) {
    const origin = `tag:${key}`;
    const name = key.slice(TAG_PREFIX.length);
    if (!TASK_NAME.test(name)) {
      problems.push({
        source: origin,
        message: `tag key "${key}": "${name}" is not a task name (1-63 letters, digits, ".", "_" and "-", starting with a letter or digit)`,
      });
      continue;
    }
    const parsed = taskFromTagValue(name, tags.get(key) ?? '');
    if (typeof parsed === 'string') {
      problems.push({ source: origin, message: parsed });
      continue;
    }
    tasks.push({
      source: 'tags',
      origin,
      raw: parsed,
      locate: (p) => ({ source: origin, at: formatPath(p) || undefined }),
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
  if (kind === undefined) return `the value is empty; write "<kind> <args…>", where kind is one of ${TAG_KINDS.join(', ')}`;
  const task = (spec: unknown) => ({ name, [kind]: spec });
  switch (kind) {
    case 'pull':
      if (args.length === 0) return 'pull needs at least one image: "pull IMAGE…"';
      return task({ images: args });
    case 'unit':
      if (args.length !== 2) return `unit takes an action and a unit name: "unit ACTION NAME", got ${args.length} word(s)`;
      return task({ action: args[0], name: args[1] });
    case 'wait': {
      const [form, target, ...rest] = args;
      if (!(WAIT_FORMS as readonly (string | undefined)[]).includes(form) || target === undefined || rest.length > 0) {
        return 'wait takes one condition: "wait url URL", "wait file PATH" or "wait unit NAME"';
      }
      return task({ [form!]: target });
    }
    case 'exec':
      if (args.length === 0) return 'exec needs a program: "exec PATH ARG…"';
      return task({ command: args[0], args: args.slice(1) });
    case 'script': {
      if (args.length !== 1) return 'script takes one word, the base64 of the script body: "script BASE64"';
      const body = decodeScript(args[0]!);
      return body === undefined ? 'script: the body is not valid base64' : task(body);
    }
    default:
      return `unknown kind ${JSON.stringify(kind)}; a tag value starts with one of ${TAG_KINDS.join(', ')}`;
  }
}

function decodeScript(b64: string): string | undefined {
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  const bytes = Buffer.from(b64, 'base64');
  try {
    // ignoreBOM: a body that starts with U+FEFF keeps it; by default the decoder drops it and changes the script.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
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
  const s = (typeof spec === 'object' && spec !== null ? spec : {}) as Record<string, unknown>;
  const dropped = (...keys: string[]) => Object.keys(s).filter((k) => !keys.includes(k)).map((k) => `${kind}.${k}`);
  const text = (v: unknown) => (typeof v === 'string' ? v : String(v));
  switch (kind) {
    case 'pull': {
      const images = Array.isArray(s.images) ? s.images.map(text) : [];
      if (images.length === 0) return { reason: 'pull.images must be a non-empty list' };
      return { value: joinWords(['pull', ...images]), dropped: dropped('images') };
    }
    case 'unit':
      return { value: joinWords(['unit', text(s.action), text(s.name)]), dropped: dropped('name', 'action') };
    case 'wait': {
      const forms = WAIT_FORMS.filter((f) => f in s);
      if (forms.length !== 1) return { reason: 'wait needs exactly one of url, file or unit' };
      return { value: joinWords(['wait', forms[0]!, text(s[forms[0]!])]), dropped: dropped(...WAIT_FORMS) };
    }
    case 'exec': {
      const args = Array.isArray(s.args) ? s.args.map(text) : [];
      return { value: joinWords(['exec', text(s.command), ...args]), dropped: dropped('command', 'args') };
    }
    case 'script':
      if (typeof spec !== 'string') return { reason: 'script must be a string' };
      return { value: joinWords(['script', Buffer.from(spec, 'utf8').toString('base64')]), dropped: [] };
    default:
      return { reason: `kind "${kind}" has no tag form; tags can hold ${TAG_KINDS.join(', ')}` };
  }
}
