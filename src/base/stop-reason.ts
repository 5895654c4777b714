import { formatDuration } from './duration.js';
import { ExitCode, PostjoinError } from './errors.js';

/** Why an attempt's signal fired, so the error line says "timed out after 5m" and not "aborted". */
export class StopReason {
  constructor(
    readonly kind: 'timeout' | 'stopped' | 'deadline',
    readonly message: string,
  ) {}
  static timeout(ms: number): StopReason {
    return new StopReason('timeout', `timed out after ${formatDuration(ms)}`);
  }
  static signal(sig: string): StopReason {
    return new StopReason('stopped', `stopped by ${sig}`);
  }
  static deadline(ms: number): StopReason {
    return new StopReason('deadline', `the run deadline (runTimeout ${formatDuration(ms)}) passed`);
  }
}

export function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof StopReason ? r.message : 'aborted';
}

/**
 * The run was stopped (SIGTERM, or the run deadline) while it waited for something before its tasks: IMDS,
 * EC2, readiness. Exit 1, like a stop during a task, and the message leads with the stop ("stopped by SIGTERM
 * while waiting for readiness; still not ready: ...").
 */
export class Stopped extends PostjoinError {
  readonly exitCode = ExitCode.taskFailed;
  constructor(message: string) {
    super(message);
    this.name = 'Stopped';
  }
}

/** Throws Stopped ("<reason> while <doing>") once the signal has fired. */
export function throwIfStopped(signal: AbortSignal | undefined, doing: string): void {
  if (signal?.aborted) throw new Stopped(`${reasonOf(signal)} while ${doing}`);
}

/** `work`, or Stopped ("<reason> while <doing>") as soon as the signal fires, for work that cannot be interrupted itself. */
export function raceStop<T>(work: Promise<T>, signal: AbortSignal | undefined, doing: () => string): Promise<T> {
  if (!signal) return work;
  let onAbort = () => {};
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Stopped(`${reasonOf(signal)} while ${doing()}`));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, stopped]).finally(() => signal.removeEventListener('abort', onAbort));
}
