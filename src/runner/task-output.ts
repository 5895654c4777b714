import type { Logger } from 'pino';
import type { TaskOutput } from '../kinds/kind.js';

export const OUTPUT_LIMIT_BYTES = 64 * 1024;

/**
 * Forwards a task's output to the journal line by line, up to a budget per task (design §8). Past it, one
 * notice is written; the rest is still read (by the process runner) so the task never blocks on a full pipe.
 */
export function createOutputForwarder(log: Logger, limit = OUTPUT_LIMIT_BYTES): TaskOutput {
  let forwarded = 0;
  let dropped = 0;
  let noticed = false;
  return {
    get full() {
      return noticed;
    },
    dropped(bytes: number): void {
      dropped += bytes;
    },
    line(stream: 'stdout' | 'stderr', line: string, truncated: boolean): void {
      const size = Buffer.byteLength(line) + 1;
      if (forwarded + size > limit) {
        dropped += size;
        if (!noticed) {
          noticed = true;
          log.warn({ stream }, `task output passed ${Math.round(limit / 1024)} KiB; the rest is not forwarded to the journal`);
        }
        return;
      }
      forwarded += size;
      log.info({ stream, ...(truncated ? { truncated: true } : {}) }, line);
    },
    finish(): void {
      if (dropped > 0) log.info({ dropped_bytes: dropped }, `${dropped} more bytes of task output were not forwarded`);
    },
  };
}
