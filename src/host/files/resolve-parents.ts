import { realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Where a write to `path` really lands: its parent directories with symlinks resolved (as far as they
 * exist; missing ones will be created as plain directories), and the last component as written.
 */
export async function resolveParents(path: string): Promise<string> {
  const missing: string[] = [basename(path)];
  let dir = dirname(path);
  for (;;) {
    try {
      return join(await realpath(dir), ...missing.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dir === '/') throw err;
      missing.push(basename(dir));
      dir = dirname(dir);
    }
  }
}
