import type { Problem } from '../base/errors.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { TASK_NAME, validateStep } from '../plan/task-schema.js';
import { isGroup, type Plan, type SimpleTask } from '../plan/task.js';
import { byteOrder } from '../sources/file-source.js';
import { TAG_KEY_CHARS, TAG_KEY_MAX, TAG_PREFIX, TAG_VALUE_MAX, TAGS_PER_RESOURCE, tagValueFromSpec, taskFromTagValue } from '../sources/tag-grammar.js';

/** The EC2 tag shape, as launch templates and `aws ec2 create-tags` take it. */
export interface Tag {
  Key: string;
  Value: string;
}

/** A tag task always has these; any other value cannot be written in the grammar. */
const TAG_DEFAULTS: [keyof SimpleTask, unknown, string][] = [
  ['timeoutMs', 600_000, 'timeout'],
  ['retries', 0, 'retries'],
  ['retryDelayMs', 1_000, 'retryDelay'],
  ['onFailure', 'abort', 'onFailure'],
  ['once', true, 'once'],
];

/**
 * Compiles a validated task file into `postjoin:` tags (design §7). Names that start with digits and "-" are
 * kept; others get a zero-padded prefix from their position (010-, 020-, …) so that the byte-wise order of the
 * keys, which is the run order on the node, is the file's order. Each tag is parsed back with the grammar and
 * must give the very same task; what cannot is listed, every task at once.
 */
export function compileTags(sourced: readonly SourcedTask[], plan: Plan, label: string): { tags: Tag[]; problems: Problem[] } {
  const width = Math.max(3, String(plan.steps.length * 10).length);
  const problems: Problem[] = [];
  const tags: Tag[] = [];
  plan.steps.forEach((step, i) => {
    const deny = (message: string) => problems.push({ source: step.origin, message: `task "${step.name}": ${message}` });
    if (isGroup(step)) return deny('a parallel group cannot be written as tags; list its members as separate tasks');
    const name = /^[0-9]+-/.test(step.name) ? step.name : `${String((i + 1) * 10).padStart(width, '0')}-${step.name}`;
    const changed = TAG_DEFAULTS.filter(([field, value]) => step[field] !== value).map(([, , shown]) => shown);
    if (step.env) changed.push('env');
    if (step.cwd) changed.push('cwd');
    if (changed.length > 0) return deny(`${changed.join(', ')} cannot be written in a tag (a tag task always has the defaults)`);
    const compiled = tagValueFromSpec(step.kind, (sourced[i]!.raw as Record<string, unknown>)[step.kind]);
    if ('reason' in compiled) return deny(compiled.reason);
    if (!TASK_NAME.test(name)) return deny(`with its order prefix the name "${name}" breaks the task-name rule (at most 63 characters)`);
    const key = `${TAG_PREFIX}${name}`;
    if (key.length > TAG_KEY_MAX || !TAG_KEY_CHARS.test(key)) return deny(`the tag key "${key}" is not one IMDS allows`);
    const length = [...compiled.value].length;
    if (length > TAG_VALUE_MAX) return deny(`its tag value is ${length} characters; EC2 allows at most ${TAG_VALUE_MAX}`);
    if (!sameTask(step, name, key, compiled.value)) {
      const what = compiled.dropped.length ? `${compiled.dropped.join(', ')} cannot be written in a tag` : 'it does not survive the tag grammar unchanged';
      return deny(what);
    }
    tags.push({ Key: key, Value: compiled.value });
  });
  if (problems.length > 0) return { tags: [], problems };
  const sorted = [...tags].sort((a, b) => byteOrder(a.Key, b.Key));
  if (sorted.some((tag, i) => tag !== tags[i])) {
    problems.push({
      source: label,
      message: `on the node these tags run in the byte-wise order of their keys (${sorted.map((t) => t.Key).join(', ')}), which is not the file's order; number every task ("10-x", "20-y") or none`,
    });
  }
  if (tags.length > TAGS_PER_RESOURCE) {
    problems.push({ source: label, message: `${tags.length} tasks need ${tags.length} tags; EC2 allows ${TAGS_PER_RESOURCE} per instance` });
  }
  return { tags, problems };
}

/** Parses the tag back, as the node will, and compares the normalized task's content hash. */
function sameTask(step: SimpleTask, name: string, key: string, value: string): boolean {
  const raw = taskFromTagValue(name, value);
  if (typeof raw === 'string') return false;
  const ignored: Problem[] = [];
  const again = validateStep({ source: 'tags', origin: `tag:${key}`, raw, locate: () => ({ source: `tag:${key}` }) }, ignored);
  return again !== undefined && !isGroup(again) && again.hash === step.hash;
}
