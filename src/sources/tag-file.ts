import type { Problem } from '../base/errors.js';
import { InvalidInput } from '../base/errors.js';
import { isRecord } from '../base/is-record.js';
import { parseDocuments, type ParsedDocument } from '../base/yaml-documents.js';
import { ENABLED_KEY, TAG_KEY_CHARS, TAG_KEY_MAX, TAG_PREFIX, TAG_VALUE_MAX, TAGS_PER_RESOURCE } from './tag-grammar.js';

/**
 * Instance tags written down, for `validate` to check offline as a node would read them (issue 20): the
 * `[{"Key","Value"}]` list `tags --output json` prints (and EC2's own `{"Tags": [...]}`), a plain
 * `{"key": "value"}` mapping (JSON or YAML), or the `KEY=VALUE` lines `tags` prints. Told apart from a task file
 * by content: a task file is a mapping with apiVersion, kind and tasks, never a list or `=` lines.
 */
export type TagFileForm = 'list' | 'mapping' | 'lines';

export interface TagFile {
  form: TagFileForm;
  /** Every tag, postjoin's and others', in the file's order, with its line. */
  entries: { key: string; value: string; line?: number }[];
  /** What EC2 or the file's shape refuses: the launch, or the reading, would fail. */
  problems: Problem[];
  /** What a node would not do as the file suggests (see tagFileWarnings). */
  warnings: Problem[];
}

export const TAG_FILE_FORMS: Record<TagFileForm, string> = {
  list: 'a [{"Key","Value"}] list',
  mapping: 'a {"key": "value"} mapping',
  lines: 'KEY=VALUE lines',
};

/** The tags in `text`, or undefined when it is not a tags file (then it is read as a task file). */
export function readTagFile(text: string, label: string): TagFile | undefined {
  const body = text.replace(/^\ufeff/, '');
  const lines = tagLines(body);
  if (lines) return checked('lines', lines, label);
  let docs: ParsedDocument[];
  try {
    docs = parseDocuments(body, 'yaml', label);
  } catch (err) {
    if (err instanceof InvalidInput) return undefined; // not YAML at all: the task-file reading says why
    throw err;
  }
  const doc = docs.length === 1 ? docs[0]! : undefined;
  const value = doc?.value;
  if (!doc) return undefined;
  if (Array.isArray(value) && value.some((v) => isRecord(v) && 'Key' in v)) return fromList(value, [], doc, label);
  if (isRecord(value) && Object.keys(value).length === 1 && Array.isArray(value.Tags)) return fromList(value.Tags, ['Tags'], doc, label);
  if (isRecord(value) && !['apiVersion', 'kind', 'tasks'].some((k) => k in value) && Object.keys(value).some((k) => k.startsWith(TAG_PREFIX))) {
    return fromMapping(value, doc, label);
  }
  return undefined;
}

/** `KEY=VALUE` lines, as `tags` prints them: every line that is not blank or a `#` comment, one postjoin key at least. */
function tagLines(text: string): Entry[] | undefined {
  const out: Entry[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    // `key: value` is YAML, even when the value holds "=" (a YAML mapping of tags, or a task file).
    if (eq <= 0 || /:(\s|$)/.test(line.slice(0, eq))) return undefined;
    out.push({ key: line.slice(0, eq), value: line.slice(eq + 1), line: i + 1 });
  }
  return out.some((e) => e.key.startsWith(TAG_PREFIX)) ? out : undefined;
}

interface Entry {
  key: string;
  value: unknown;
  line?: number;
  /** Where the entry is when its key cannot say it: `[3]` in a list. */
  at?: string;
}

function fromList(items: unknown[], prefix: (string | number)[], doc: ParsedDocument, label: string): TagFile {
  const entries: Entry[] = [];
  const bad: Problem[] = [];
  items.forEach((item, i) => {
    const line = doc.lineOf([...prefix, i]);
    const at = `${prefix.length ? 'Tags' : ''}[${i}]`;
    if (!isRecord(item) || typeof item.Key !== 'string') {
      bad.push({ source: label, at, ...(line ? { line } : {}), message: 'expected a tag: {"Key": "...", "Value": "..."}' });
      return;
    }
    entries.push({ key: item.Key, value: item.Value ?? '', line, at });
  });
  const file = checked('list', entries, label);
  return { ...file, problems: [...bad, ...file.problems] };
}

function fromMapping(value: Record<string, unknown>, doc: ParsedDocument, label: string): TagFile {
  return checked('mapping', Object.entries(value).map(([key, v]) => ({ key, value: v ?? '', line: doc.lineOf([key]) })), label);
}

/** EC2's own rules, which a launch with these tags would meet, and the shape of each value. */
function checked(form: TagFileForm, entries: Entry[], label: string): TagFile {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const seen = new Map<string, number | undefined>();
  const good: TagFile['entries'] = [];
  for (const e of entries) {
    const where = { source: tagSource(label, e.key), ...(e.at && !plainKey(e.key) ? { at: e.at } : {}), ...(e.line ? { line: e.line } : {}) };
    const refuse = (message: string) => problems.push({ ...where, message });
    const value = typeof e.value === 'string' ? e.value : typeof e.value === 'number' || typeof e.value === 'boolean' ? String(e.value) : undefined;
    if (value === undefined) refuse('a tag value is a string');
    if (e.key === '') refuse('the key is empty; EC2 refuses such a tag');
    if ([...e.key].length > TAG_KEY_MAX) refuse(`the key is ${[...e.key].length} characters; EC2 allows at most ${TAG_KEY_MAX}`);
    if (value !== undefined && [...value].length > TAG_VALUE_MAX) refuse(`the value is ${[...value].length} characters; EC2 allows at most ${TAG_VALUE_MAX}`);
    const duplicate = seen.has(e.key);
    if (duplicate) refuse(`the key is given twice${seen.get(e.key) ? ` (first on line ${seen.get(e.key)})` : ''}; a tag key has one value`);
    else seen.set(e.key, e.line);
    if (e.key !== '' && !e.key.startsWith(TAG_PREFIX) && !TAG_KEY_CHARS.test(e.key) && !isAws(e.key)) {
      // Issue 19: EC2 refuses to launch with instance metadata tags on while any key holds such a character.
      warnings.push({
        ...where,
        message: 'instance metadata cannot show this key (it allows only letters, digits and + = . _ : @ -): with InstanceMetadataTags enabled EC2 refuses to launch; with it off (as Karpenter launches), the node reads its tags with DescribeInstances',
      });
    }
    if (value !== undefined && !duplicate) good.push({ key: e.key, value, ...(e.line ? { line: e.line } : {}) });
  }
  const counted = [...seen.keys()].filter((k) => !isAws(k)).length;
  if (counted > TAGS_PER_RESOURCE) problems.push({ source: label, message: `${counted} tags; EC2 allows ${TAGS_PER_RESOURCE} per instance (aws:* ones do not count)` });
  const enabled = good.find((e) => e.key === ENABLED_KEY);
  const switchWord = enabled?.value.trim().toLowerCase();
  if (enabled && switchWord === 'false') {
    warnings.push({ source: tagSource(label, ENABLED_KEY), ...(enabled.line ? { line: enabled.line } : {}), message: 'the node reads no postjoin tag while this is false; the others are checked all the same' });
  } else if (enabled && switchWord !== 'true') {
    warnings.push({ source: tagSource(label, ENABLED_KEY), ...(enabled.line ? { line: enabled.line } : {}), message: `is neither true nor false; the node keeps the tags source on` });
  }
  return { form, entries: good, problems, warnings };
}

/** `tags:FILE#KEY`, beside the node's `tag:KEY`; a key that would not read well on one line is left to the line number. */
export function tagSource(label: string, key: string): string {
  return plainKey(key) ? `${label}#${key}` : label;
}

function plainKey(key: string): boolean {
  return /^[\x21-\x7e]{1,128}$/.test(key);
}

/** AWS's own tags (`aws:autoscaling:groupName`): nobody can set them, and they do not count towards the 50. */
function isAws(key: string): boolean {
  return key.toLowerCase().startsWith('aws:');
}
