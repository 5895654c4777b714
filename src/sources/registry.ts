import type { SourceName } from '../config/agent-config.js';
import { fileSource } from './file-source.js';
import type { TaskSource } from './source.js';
import { tagsSource } from './tags-source.js';
import { userdataSource } from './userdata-source.js';

/** Every source, one line each. The config's `sources` list picks which run, and in what order. */
export const taskSources: Partial<Record<SourceName, TaskSource>> = {
  file: fileSource,
  userdata: userdataSource,
  tags: tagsSource,
};
