import { execKind } from './exec.js';
import { fileKind } from './file.js';
import type { TaskKind } from './kind.js';
import { pullKind } from './pull.js';
import { scriptKind } from './script.js';
import { unitKind } from './unit.js';
import { waitKind } from './wait.js';

/**
 * Every task kind, one line each; the schema, the config's default allow-lists and the tag grammar all take
 * their kinds from here. `parallel` is not here: it is a step that holds tasks, not a kind of work.
 */
export const taskKinds: readonly TaskKind<any>[] = [execKind, scriptKind, fileKind, pullKind, unitKind, waitKind];

export function kindNamed(name: string): TaskKind<any> | undefined {
  return taskKinds.find((k) => k.kind === name);
}

export function kindNames(): string[] {
  return taskKinds.map((k) => k.kind);
}
