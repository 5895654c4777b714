import { fileSource } from './file-source.js';
import type { TaskSource } from './source.js';
import { tagsSource } from './tags-source.js';
import { userdataSource } from './userdata-source.js';

/**
 * Every source, one line each. The config's `sources` list picks which run, and in what order; its default
 * is this order. The config's source names, `policy` keys and default allow-lists all come from here.
 */
export const taskSources = [fileSource, userdataSource, tagsSource] as const;

export type SourceName = (typeof taskSources)[number]['name'];

export const sourceNames = (): SourceName[] => taskSources.map((s) => s.name);

export function sourceNamed(name: string): TaskSource | undefined {
  return taskSources.find((s) => s.name === name);
}
