import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink, stat, type FileHandle } from 'node:fs/promises';
import { InvalidInput } from './errors.js';
import { quoted } from './shown-text.js';

/**
 * The cap on one input file: a task file, a `validate` operand, a `--tasks` file or the agent config. Task
 * files are hand-written config; parsing costs some 40 times the file's size in memory (a 20 MB file took
 * 911 MB), so 1 MiB, the same cap as user data, keeps the agent small on the smallest node while leaving room
 * for `file` tasks that embed a config or a certificate bundle. Bigger content belongs in the AMI.
 */
export const INPUT_FILE_LIMIT_BYTES = 1024 * 1024;
export const INPUT_FILE_LIMIT_TEXT = '1 MiB';

/** The entry cannot be read as a file (missing, not a regular file, no permission); `message` says which. */
export class UnreadableFile extends Error {
  constructor(
    message: string,
    /** True only when nothing is there at all (a dangling symlink is something). */
    readonly missing = false,
  ) {
    super(message);
    this.name = 'UnreadableFile';
  }
}

export interface ReadInputOptions {
  /** Names the input in a size error: `file:/etc/postjoin/tasks.d/10-x.yaml`, `config /etc/postjoin/config.yaml`. */
  source: string;
  /** What the cap is for, in the error: "a task file", "the agent config". */
  what: string;
  /**
   * Whether a pipe is read (a helper verb given `<(…)` by a shell). The agent's own inputs refuse one: a FIFO
   * with no writer would block the agent at boot.
   */
  allowPipe?: boolean;
  limit?: number;
}

/**
 * Reads one input file, within the cap. A regular file (or a symlink to one) is checked by its size before a
 * byte is read, and read no further than the cap in case it grows. Anything else is refused from `stat`
 * alone, without opening it: a FIFO, a socket, a device or a directory. The open is non-blocking and checked
 * again on the descriptor, in case the entry was swapped in between.
 */
export async function readInputFile(path: string, opts: ReadInputOptions): Promise<Buffer> {
  const limit = opts.limit ?? INPUT_FILE_LIMIT_BYTES;
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    throw await describeFailure(path, err);
  }
  const pipe = st.isFIFO() && opts.allowPipe === true;
  if (!st.isFile() && !pipe) throw new UnreadableFile(kindOf(st));
  tooLarge(st.size, opts, limit);
  let fh: FileHandle;
  try {
    // O_NONBLOCK: a FIFO swapped in after the stat opens at once instead of waiting for a writer.
    fh = await open(path, pipe ? constants.O_RDONLY : constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw await describeFailure(path, err);
  }
  try {
    const again = await fh.stat();
    if (!again.isFile() && !(pipe && again.isFIFO())) throw new UnreadableFile(kindOf(again));
    tooLarge(again.size, opts, limit);
    return await readCapped(fh, opts, limit);
  } finally {
    await fh.close();
  }
}

function tooLarge(size: number, opts: ReadInputOptions, limit: number): void {
  if (size > limit) {
    throw new InvalidInput({ source: opts.source, message: `is ${size} bytes; ${opts.what} may be at most ${limitText(limit)} (${limit} bytes)` });
  }
}

async function readCapped(fh: FileHandle, opts: ReadInputOptions, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, limit + 1 - total));
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) return Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > limit) {
      throw new InvalidInput({
        source: opts.source,
        message: `is larger than ${limitText(limit)} (${limit} bytes), the limit for ${opts.what} (it grew while being read, or is a pipe)`,
      });
    }
  }
}

function limitText(limit: number): string {
  return limit === INPUT_FILE_LIMIT_BYTES ? INPUT_FILE_LIMIT_TEXT : `${limit} bytes`;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'is a directory, not a file';
  if (st.isFIFO()) return 'is a FIFO (named pipe), not a regular file; it was not opened';
  if (st.isSocket()) return 'is a socket, not a regular file';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'is a device, not a regular file';
  return 'is not a regular file';
}

/** Why an entry that stat or open refused cannot be read, in words: a dangling symlink is not "ENOENT". */
async function describeFailure(path: string, err: unknown): Promise<UnreadableFile> {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new UnreadableFile('is a symlink loop (or a chain of more than 40 symlinks)');
  if (code === 'ENOENT') {
    const link = await lstat(path).then((l) => l.isSymbolicLink(), () => false);
    if (link) {
      const target = await readlink(path).catch(() => '?');
      return new UnreadableFile(`is a dangling symlink: its target ${quoted(target, 200)} does not exist`);
    }
    return new UnreadableFile('does not exist', true);
  }
  if (code === 'ENXIO') return new UnreadableFile('is a socket, not a regular file');
  return new UnreadableFile((err as Error).message);
}
