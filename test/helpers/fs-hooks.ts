import { join } from 'node:path';
import { ROOT } from './cli.js';

/**
 * One hook of the fs-hooks.cjs preload: when `fn` is called on a path matching `path` (for rename, the
 * destination; `content` then matches the file being renamed into place), it acts `before` (default) or
 * `after` the call, once: touch a file (with this pid), send this process a signal, wait for a file, sleep.
 */
export interface FsHook {
  fn: 'rename' | 'readFile' | 'open' | 'writeFile';
  path: string;
  content?: string;
  when?: 'before' | 'after';
  touch?: string;
  signal?: NodeJS.Signals;
  waitFor?: string;
  delayMs?: number;
}

/** The environment that loads the preload into the bundle's node process with these hooks. */
export function fsHooks(hooks: FsHook[]): NodeJS.ProcessEnv {
  return { NODE_OPTIONS: `--require ${join(ROOT, 'test/helpers/fs-hooks.cjs')}`, POSTJOIN_TEST_FS_HOOKS: JSON.stringify(hooks) };
}
