import { InvalidInput, type Problem } from '../base/errors.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { tasksFromText } from '../plan/task-document.js';
import { defineSource, everyKind, imdsOf, type SourceContext } from './source.js';
import { POSTJOIN_PART_TYPE, postjoinParts, type PostjoinPart } from './userdata-mime.js';

export const USER_DATA_PATH = '/latest/user-data';

/**
 * The `application/postjoin+yaml` parts of the instance's user data, beside nodeadm's NodeConfig. No user
 * data (404), or user data that is not MIME multipart, means no tasks from here.
 */
export const userdataSource = defineSource({
  name: 'userdata',
  needsImds: true,
  defaultAllow: everyKind,
  async read(ctx: SourceContext): Promise<SourcedTask[]> {
    const raw = await imdsOf(ctx).get(USER_DATA_PATH);
    if (raw === undefined) {
      ctx.log.debug('the instance has no user data; no user-data tasks');
      return [];
    }
    const parts = postjoinParts(raw);
    if (parts.length === 0) ctx.log.debug(`the user data has no ${POSTJOIN_PART_TYPE} part; no user-data tasks`);
    return tasksFromParts(parts);
  },
});

/** Every part is parsed, and every problem in every part reported, before anything fails. */
export function tasksFromParts(parts: readonly PostjoinPart[]): SourcedTask[] {
  const out: SourcedTask[] = [];
  const problems: Problem[] = [];
  for (const part of parts) {
    try {
      out.push(...tasksFromText(part.text, 'yaml', part.label, 'userdata'));
    } catch (err) {
      if (!(err instanceof InvalidInput)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) throw new InvalidInput(problems);
  return out;
}
