import { InvalidInput } from '../base/errors.js';
import { readInputFile } from '../base/input-file.js';
import { decodeUtf8Text } from '../base/text-encoding.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { tasksFromText } from '../plan/task-document.js';
import { looksLikeUserData, parseUserData, POSTJOIN_PART_TYPE, postjoinParts } from '../sources/userdata-mime.js';
import { tasksFromParts } from '../sources/userdata-source.js';

export interface ValidateInput {
  type: 'tasks' | 'userdata';
  tasks: SourcedTask[];
  /** For user data: how many postjoin parts it holds. */
  parts?: number;
}

/**
 * One `validate` operand: a task file, or a whole user data told apart by its content (gzip, base64 or MIME
 * headers), not by its name: launch-template user data is often saved as `userdata.txt`. User-data tasks are
 * labelled `userdata:FILE:part[N]` and count as the userdata source for policy.
 */
export async function readValidateInput(path: string): Promise<ValidateInput> {
  // A pipe is read too (`validate <(…)`), within the cap.
  const bytes = await readInputFile(path, { source: `file:${path}`, what: 'a task file or user data', allowPipe: true });
  if (!looksLikeUserData(bytes)) {
    return { type: 'tasks', tasks: tasksFromText(decodeUtf8Text(bytes, `file:${path}`), path.endsWith('.json') ? 'json' : 'yaml', `file:${path}`, 'file') };
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
