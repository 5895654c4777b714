import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInput, SourceUnreadable, type Problem } from '../errors.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { tasksFromText } from '../plan/task-document.js';
import type { SourceContext, TaskSource } from './source.js';

const TASK_FILE = /\.(ya?ml|json)$/;

/** Task files baked into the AMI: `tasksDir/*.yaml|*.yml|*.json`, in byte-wise name order. */
export const fileSource: TaskSource = {
  name: 'file',
  async read(ctx: SourceContext): Promise<SourcedTask[]> {
    const dir = ctx.config.tasksDir;
    const names = await listTaskFiles(dir);
    if (names === undefined) {
      ctx.log.debug({ dir }, 'tasks directory is absent; no file tasks');
      return [];
    }
    const out: SourcedTask[] = [];
    const problems: Problem[] = [];
    for (const name of names) {
      const path = join(dir, name);
      const text = await readTaskFile(path);
      if (text === undefined) continue;
      try {
        out.push(...tasksFromText(text, name.endsWith('.json') ? 'json' : 'yaml', `file:${path}`, 'file'));
      } catch (err) {
        if (!(err instanceof InvalidInput)) throw err;
        problems.push(...err.problems);
      }
    }
    if (problems.length > 0) throw new InvalidInput(problems);
    return out;
  },
};

/** Sorted like `LC_ALL=C ls`, not by JavaScript's UTF-16 order, so `10-` runs before `9-` only if named so. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function listTaskFiles(dir: string): Promise<string[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new SourceUnreadable(`file:${dir}`, `cannot list the tasks directory: ${(err as Error).message}`);
  }
  // Dot files are editors' and package managers' leftovers (`.10-x.yaml.swp`, `.#x.yaml`), never tasks.
  const names = entries.filter((n) => TASK_FILE.test(n) && !n.startsWith('.')).sort(byteOrder);
  const files: string[] = [];
  for (const n of names) {
    const s = await stat(join(dir, n)).catch(() => undefined);
    if (s?.isFile()) files.push(n);
  }
  return files;
}

async function readTaskFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // removed while we listed
    throw new SourceUnreadable(`file:${path}`, `cannot read: ${(err as Error).message}`);
  }
}
