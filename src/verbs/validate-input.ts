import { InvalidInput, type Problem } from '../base/errors.js';
import { readInputFile } from '../base/input-file.js';
import { decodeUtf8Text } from '../base/text-encoding.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { tasksFromText } from '../plan/task-document.js';
import { looksLikeUserData, parseUserData, POSTJOIN_PART_TYPE, postjoinParts } from '../sources/userdata-mime.js';
import { tasksFromParts } from '../sources/userdata-source.js';
import { readTagFile, tagSource, type TagFile, type TagFileForm } from '../sources/tag-file.js';
import { ENABLED_KEY, TAG_PREFIX, tasksFromTags } from '../sources/tag-grammar.js';

export interface ValidateInput {
  type: 'tasks' | 'userdata' | 'tags';
  tasks: SourcedTask[];
  /** For user data: how many postjoin parts it holds. */
  parts?: number;
  /** For instance tags: the form they were written in, and how many are not postjoin's (and so not read). */
  tags?: { form: TagFileForm; ignored: number };
  /** Problems found while the rest of the file is still checked (instance tags: each bad tag). */
  problems?: Problem[];
  warnings?: Problem[];
}

/**
 * One `validate` operand: a task file, a whole user data, or instance tags, told apart by content (gzip,
 * base64 or MIME headers; a tags list, mapping or KEY=VALUE lines), not by name: launch-template user data is
 * often saved as `userdata.txt`. User-data tasks are labelled `userdata:FILE:part[N]` and count as the userdata
 * source for policy; tag tasks `tags:FILE#postjoin:NAME`, as the tags source.
 */
export async function readValidateInput(path: string): Promise<ValidateInput> {
  // A pipe is read too (`validate <(…)`), within the cap.
  const bytes = await readInputFile(path, { source: `file:${path}`, what: 'a task file or user data', allowPipe: true });
  if (!looksLikeUserData(bytes)) {
    const text = decodeUtf8Text(bytes, `file:${path}`);
    const tags = readTagFile(text, `tags:${path}`);
    if (tags) return tagTasks(tags, `tags:${path}`);
    return { type: 'tasks', tasks: tasksFromText(text, path.endsWith('.json') ? 'json' : 'yaml', `file:${path}`, 'file') };
  }
  const label = `userdata:${path}`;
  if (!parseUserData(bytes, label).multipart) {
    throw new InvalidInput({
      source: label,
      message: `looks like user data (gzip, base64 or MIME) but is not MIME multipart; postjoin reads only its ${POSTJOIN_PART_TYPE} parts`,
    });
  }
  const parts = postjoinParts(bytes, label);
  return { type: 'userdata', tasks: tasksFromParts(parts), parts: parts.length };
}

/**
 * The tasks a node would make of these tags, as the tags source does, every bad tag reported. With
 * `postjoin:enabled=false` a node reads none; they are checked all the same (tagFile warns about it).
 */
function tagTasks(file: TagFile, label: string): ValidateInput {
  const map = new Map(file.entries.map((e) => [e.key, e.value]));
  const lines = new Map(file.entries.map((e) => [e.key, e.line]));
  map.delete(ENABLED_KEY);
  const outcome = tasksFromTags(map, (key) => ({ origin: tagSource(label, key), ...(lines.get(key) ? { line: lines.get(key)! } : {}) }));
  const read = outcome.enabled ? outcome : { tasks: [], problems: [] };
  const ignored = file.entries.filter((e) => !e.key.startsWith(TAG_PREFIX)).length;
  return { type: 'tags', tasks: read.tasks, tags: { form: file.form, ignored }, problems: [...file.problems, ...read.problems], warnings: file.warnings };
}
