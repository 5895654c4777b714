import type { Logger } from 'pino';
import type { ImdsClient } from '../host/aws/imds-client.js';
import type { Host } from '../host/host.js';
import type { TaskKind } from '../kinds/kind.js';
import type { SourcedTask } from '../plan/sourced-task.js';

export interface SourceContext {
  log: Logger;
  /**
   * The run's one stop signal (SIGTERM, the run deadline): every wait a source makes (IMDS, EC2) ends with
   * Stopped when it fires. Absent for verbs that are not a run (`plan`).
   */
  stop?: AbortSignal;
  /** The machine: the run's one IMDS client, so the sources and the instance identity share one session token. */
  host: Pick<Host, 'imds'>;
  /** What the config says about where sources read. */
  settings: SourceSettings;
}

export interface SourceSettings {
  /** The file source's directory (config `tasksDir`). */
  tasksDir: string;
}

/**
 * One place tasks come from. Like nodeadm's ConfigProvider: one method, one file per source, and one line in
 * `registry.ts`; the config takes the source's name, its policy key and its default allow-list from here.
 * `read` returns the tasks in the source's own order. An absent source (no directory, no user data, no
 * tags) returns []. Invalid content throws InvalidInput (exit 2); an unreadable source throws
 * SourceUnreadable (exit 4).
 */
export interface TaskSource<Name extends string = string> {
  /** Its name in the config's `sources` list, its key under `policy`, and the `source` of its tasks. */
  readonly name: Name;
  /** Whether it reads IMDS: the config refuses it while `imds.enabled` is false. */
  readonly needsImds: boolean;
  /** Its `policy.<name>.allow` when the config does not say: which of the kinds its tasks may have. */
  defaultAllow(kinds: readonly TaskKind[]): string[];
  read(ctx: SourceContext): Promise<SourcedTask[]>;
}

/** Keeps a source's name as a literal type, so the registry can spell the config's source names. */
export function defineSource<const Name extends string>(source: TaskSource<Name>): TaskSource<Name> {
  return source;
}

/** Every kind: what the sources the node's owner writes (task files, user data) may ask for by default. */
export const everyKind = (kinds: readonly TaskKind[]): string[] => kinds.map((k) => k.kind);

/** The run's IMDS client. The config refuses a source that needs it while IMDS is off, so it is there. */
export function imdsOf(ctx: SourceContext): ImdsClient {
  const imds = ctx.host.imds();
  if (!imds) throw new Error('this source reads IMDS, but imds.enabled is false');
  return imds;
}
