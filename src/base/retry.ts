/** The doubling of retry delays stops here (design §5). */
export const MAX_RETRY_DELAY_MS = 30_000;

/** IMDS reads: the base doubles per retry, capped, with full jitter (0 up to the ceiling). */
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
  const ceiling = Math.max(retryDelayMs, Math.min(MAX_RETRY_DELAY_MS, retryDelayMs * 2 ** retryIndex));
  return retryDelayMs + Math.floor(random() * (ceiling - retryDelayMs));
}
