import { sleep } from './sleep.js';

/**
 * The one poll loop and the one retry loop of postjoin (nodeadm's `util.NewRetrier` is the model): every wait
 * that looks again until something holds (the readiness gate, a unit's state, a `wait` task, a process group
 * going away) and every call that is tried again after a failure (IMDS, a task's attempts, the Kubernetes API,
 * a credential refreshed once) is one of these two, so only the callers' rules differ, never the loop.
 */

/** The doubling of retry delays stops here (design §5). */
export const MAX_RETRY_DELAY_MS = 30_000;

/** IMDS reads, Kubernetes API calls: the base doubles per retry, capped, with full jitter (0 up to the ceiling). */
export function backoffDelay(baseMs: number, retryIndex: number, random: () => number = Math.random, capMs = MAX_RETRY_DELAY_MS): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** retryIndex);
  return Math.floor(random() * ceiling);
}

/**
 * A task's retries: never less than the `retryDelay` its author wrote. The jitter only adds to it, uniformly up
 * to retryDelay·2^n, a doubling that stops at 30 s but never pulls the ceiling below retryDelay itself. So the
 * first retry waits exactly retryDelay, and `retryDelay: 5m` waits 5m every time rather than 0–30 s.
 */
export function taskRetryDelay(retryDelayMs: number, retryIndex: number, random: () => number = Math.random): number {
  const ceiling = doubledAtLeastBase(retryDelayMs, retryIndex, MAX_RETRY_DELAY_MS);
  return retryDelayMs + Math.floor(random() * (ceiling - retryDelayMs));
}

/** base·2^n, stopped at `capMs`, but never below `baseMs` itself (a base above the cap is kept, not cut). */
function doubledAtLeastBase(baseMs: number, retryIndex: number, capMs: number): number {
  return Math.max(baseMs, Math.min(capMs, baseMs * 2 ** retryIndex));
}

/**
 * Retries that must visibly back off, for minutes (`postjoin report --retry-for`): half of the doubled ceiling,
 * plus up to the other half at random. Every wait is longer than the one two before it, and the retries of a
 * fleet whose API server comes back spread over the ceiling instead of arriving at once.
 */
export function growingDelay(baseMs: number, retryIndex: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = doubledAtLeastBase(baseMs, retryIndex, capMs);
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

export interface PollOptions {
  /** Ends the poll: the sleep between looks at once, and no look starts after it fired. */
  signal?: AbortSignal;
  /** How long to sleep between two looks. */
  intervalMs: number;
  /**
   * Receives the function that wakes the poll early (a D-Bus signal, a probe's watch): it ends the sleep at
   * once, and when it comes during a look, the next look follows without a sleep.
   */
  watch?: (nudge: () => void) => void;
}

/**
 * Looks with `look` until it returns something other than undefined, and returns that. The first look is at
 * once; after each one that found nothing, a sleep of `intervalMs` (cut short by a nudge), unless the signal
 * has fired: then the poll ends with undefined, without looking again. `look` may throw to end it too.
 */
export async function pollUntil<T>(look: () => Promise<T | undefined>, opts: PollOptions): Promise<T | undefined> {
  let nudged = false;
  let wake: (() => void) | undefined;
  opts.watch?.(() => {
    nudged = true;
    wake?.();
  });
  for (;;) {
    nudged = false;
    const found = await look();
    if (found !== undefined) return found;
    if (opts.signal?.aborted) return undefined;
    if (!nudged) await sleep(opts.intervalMs, opts.signal, (w) => (wake = w));
    wake = undefined;
    if (opts.signal?.aborted) return undefined;
  }
}

export interface RetryOptions {
  /**
   * Called when attempt `retry` (0 for the first) failed with `err`: returns how long to wait before the next
   * attempt, or throws to end the retry, with `err` itself or an error that says more (the budget is spent,
   * the error is not worth another try).
   */
  delayMs(err: unknown, retry: number): number;
  /** Ends the wait before the next attempt at once; the retry then ends with what `stopped(err)` returns. */
  signal?: AbortSignal;
  stopped?(err: unknown): unknown;
}

/** Runs `attempt` until it succeeds or `delayMs` gives up; `retry` is the attempt's index, 0 for the first. */
export async function retry<T>(attempt: (retry: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      await sleep(opts.delayMs(err, n), opts.signal);
      if (opts.signal?.aborted) throw opts.stopped ? opts.stopped(err) : err;
    }
  }
}

/** For `delayMs`: ends the retry with `err`, as an expression (`isStale(err) ? 0 : giveUp(err)`). */
export function giveUp(err: unknown): never {
  throw err;
}
