import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { InvalidInput, SourceUnreadable, type Problem } from '../base/errors.js';
import { readInputFile, UnreadableFile } from '../base/input-file.js';
import { decodeUtf8Text } from '../base/text-encoding.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { tasksFromText } from '../plan/task-document.js';
import { defineSource, everyKind, type SourceContext } from './source.js';

const TASK_FILE = /\.(ya?ml|json)$/;

/**
 * Task files baked into the AMI: `tasksDir/*.yaml|*.yml|*.json`, in byte-wise name order. An entry with such a
 * name that is not a readable regular file (a dangling symlink, a directory, a FIFO, …) is exit 4, naming it:
 * the tasks someone put behind it must not be left out in silence.
 */
export const fileSource = defineSource({
  name: 'file',
  needsImds: false,
  defaultAllow: everyKind,
  async read(ctx: SourceContext): Promise<SourcedTask[]> {
    const dir = ctx.settings.tasksDir;
    const names = await listTaskFiles(dir);
    if (names === undefined) {
      ctx.log.debug({ dir }, 'tasks directory is absent; no file tasks');
      return [];
    }
    const out: SourcedTask[] = [];
    const problems: Problem[] = [];
    for (const name of names) {
      const path = join(dir, name);
      try {
        const text = await readTaskFile(path, ctx.log);
        if (text === undefined) continue;
        out.push(...tasksFromText(text, name.endsWith('.json') ? 'json' : 'yaml', `file:${path}`, 'file'));
      } catch (err) {
        if (!(err instanceof InvalidInput)) throw err;
        problems.push(...err.problems);
      }
    }
    if (problems.length > 0) throw new InvalidInput(problems);
    return out;
  },
});

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
  return entries.filter((n) => TASK_FILE.test(n) && !n.startsWith('.')).sort(byteOrder);
}

/** The file's text; undefined if it was removed since the listing. Size and encoding problems are exit 2. */
async function readTaskFile(path: string, log: Logger): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readInputFile(path, { source: `file:${path}`, what: 'a task file' });
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    if (err.missing) {
      log.warn({ path }, `${path} was removed while the tasks directory was read; its tasks are left out`);
      return undefined;
    }
    throw new SourceUnreadable(`file:${path}`, err.message);
  }
  return decodeUtf8Text(bytes, `file:${path}`);
}
