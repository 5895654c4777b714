import { chmod, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../host/files/atomic-file.js';
import { isRunState, type RunState } from './run-state.js';

export const STATE_FILE = 'state.json';

export type LoadedState = { kind: 'none' } | { kind: 'ok'; state: RunState } | { kind: 'corrupt'; reason: string };

/** Reads `state.json` without changing anything: what `status` uses. */
export async function readState(dir: string): Promise<LoadedState> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'corrupt', reason: (err as Error).message };
  }
  try {
    const value: unknown = JSON.parse(text);
    if (isRunState(value)) return { kind: 'ok', state: value };
    return { kind: 'corrupt', reason: 'not a postjoin state file (unexpected shape)' };
  } catch (err) {
    return { kind: 'corrupt', reason: `not valid JSON (${(err as Error).message})` };
  }
}

/**
 * Replaces `state.json` whole, durably (temporary file, fsync, rename, fsync of the directory). Only a holder of
 * the run lock calls it: `run` through its StateStore, `report` to record a try.
 */
export async function saveState(dir: string, state: RunState, durable = true): Promise<void> {
  await writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { durable });
}

/**
 * The state directory: created 0700 (or tightened to it), holding `state.json` written atomically —
 * temp file, fsync, rename, fsync of the directory — so a crash or power loss leaves either the old or the
 * new state, never half of one.
 */
export class StateStore {
  private constructor(
    readonly dir: string,
    readonly previous: RunState | undefined,
  ) {}

  /** Creates the directory 0700, or tightens it to 0700: `run` does this first, to take its lock in it. */
  static async prepare(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const s = await stat(dir);
    if ((s.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
  }

  /** Reads the previous state. `run` calls it only while it holds the run lock, so the state cannot be stale. */
  static async open(dir: string, log: Logger): Promise<StateStore> {
    await StateStore.prepare(dir);
    const loaded = await readState(dir);
    if (loaded.kind === 'corrupt') {
      const aside = join(dir, `${STATE_FILE}.corrupt-${new Date().toISOString().replace(/[:.]/g, '')}`);
      await rename(join(dir, STATE_FILE), aside).catch(() => {});
      log.warn({ moved_to: aside }, `state file is unreadable (${loaded.reason}); moved it aside and treating no task as done`);
    }
    return new StateStore(dir, loaded.kind === 'ok' ? loaded.state : undefined);
  }

  /**
   * `durable: false` skips the fsyncs: used for the "task started" marker, which only matters if the agent
   * dies, while a finished task's record is always made durable.
   */
  write(state: RunState, durable = true): Promise<void> {
    return saveState(this.dir, state, durable);
  }
}
