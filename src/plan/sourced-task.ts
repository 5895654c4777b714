import type { Locate } from '../base/zod-problems.js';

/** A task as a source found it: not yet validated, but already knowing where it came from. */
export interface SourcedTask {
  /** The source's name (`file`, `userdata`, `tags`): policy is per source. */
  source: string;
  /** `file:/etc/postjoin/tasks.d/10-x.yaml#tasks[2]`, `userdata:part[1]#tasks[0]`, `tag:postjoin:10-prepull`. */
  origin: string;
  raw: unknown;
  /** Turns a path inside this task into a location in its source text. */
  locate: Locate;
}
