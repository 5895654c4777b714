/** The one retry delay rule (design §5): the base doubles per retry, capped, with full jitter. */
export const MAX_RETRY_DELAY_MS = 30_000;

export function backoffDelay(baseMs: number, retryIndex: number, random: () => number = Math.random, capMs = MAX_RETRY_DELAY_MS): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** retryIndex);
  return Math.floor(random() * ceiling);
}
