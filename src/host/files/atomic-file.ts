import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { giveUp, retry } from '../../base/retry.js';

export interface AtomicWriteOptions {
  /** Called on the open temporary file (created 0600) before it is made durable: chown, chmod. */
  prepare?: (fh: FileHandle) => Promise<void>;
  /** false skips both fsyncs: the swap is still atomic, only not durable against power loss. Default true. */
  durable?: boolean;
}

/**
 * Writes `path` through a temporary file beside it: write, fsync, rename over `path`, fsync of the directory.
 * A crash or power loss leaves the old content or the new, never a mix, and a failure removes the temporary
 * file. rename() replaces a symlink at `path` instead of writing through it.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const dir = dirname(path);
  const { tmp, fh } = await openTemporary(dir);
  try {
    await fh.writeFile(data);
    await opts.prepare?.(fh);
    if (durable) await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  if (!durable) return;
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * A temporary of fixed length beside the target, whatever the target's name: any name up to NAME_MAX (255 bytes)
 * must work, so the temporary cannot be derived from it. 64 random bits, and O_EXCL ('wx'): two writers, or a
 * leftover of a crash, never share one; on the unlikely collision another name is drawn.
 */
async function openTemporary(dir: string): Promise<{ tmp: string; fh: FileHandle }> {
  return retry(
    async () => {
      const tmp = join(dir, `.postjoin-${randomBytes(8).toString('hex')}.tmp`);
      return { tmp, fh: await open(tmp, 'wx', 0o600) };
    },
    { delayMs: (err, n) => ((err as NodeJS.ErrnoException).code === 'EEXIST' && n < 4 ? 0 : giveUp(err)) },
  );
}
