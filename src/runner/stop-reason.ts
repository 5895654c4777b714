import { formatDuration } from '../duration.js';

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
